//! Scanning one input: decode, find records, filter by time, evaluate, build signals.
//! Inputs are scanned in parallel; each yields a [`FileOutcome`] merged in input order.

use chrono::{DateTime, Utc};
use tripline_alert::{InputRef, Signal};
use tripline_engine::Engine;
use tripline_event::{fields, time::parse_event_time};
use tripline_io::decode::read_input;
use tripline_io::shape::{parse, Item};
use tripline_io::{Input, Problem};

/// `--since`/`--until` bounds on `eventTime` (inclusive since, exclusive until).
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeRange {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl TimeRange {
    fn is_set(&self) -> bool {
        self.since.is_some() || self.until.is_some()
    }

    fn contains(&self, t: DateTime<Utc>) -> bool {
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u)
    }
}

/// What scanning one input found.
#[derive(Default)]
pub struct FileOutcome {
    pub records: u64,
    pub bad_records: u64,
    pub insights: u64,
    pub digests: u64,
    pub outside_range: u64,
    pub problems: Vec<Problem>,
    /// (rule index, signal), in record order.
    pub signals: Vec<(usize, Signal)>,
    pub raw_bytes: u64,
}

impl FileOutcome {
    /// Any problem that is not a warning: the run exits 2.
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(|p| !p.warning)
    }
}

pub fn scan_input(engine: &Engine, input: &Input, range: TimeRange) -> FileOutcome {
    let label = input.label();
    let decoded = read_input(input);
    let mut out = FileOutcome { problems: decoded.problems, raw_bytes: decoded.raw_bytes, ..FileOutcome::default() };
    let mut matches = Vec::new();
    parse(&label, &decoded.text, &mut |item| match item {
        Item::Record { index, line, record } => {
            out.records += 1;
            if record.is_insight() {
                out.insights += 1;
            }
            if range.is_set() {
                let time = record.str(fields::EVENT_TIME).and_then(|t| parse_event_time(&t));
                if !time.is_some_and(|t| range.contains(t)) {
                    out.outside_range += 1;
                    return;
                }
            }
            matches.clear();
            engine.evaluate(&record, &mut matches);
            for &rule in &matches {
                let input = InputRef { file: label.clone(), record: index, line };
                out.signals.push((rule, Signal::build(&engine.rules()[rule], &record, input)));
            }
        }
        Item::Problem(problem) => {
            if problem.record.is_some() {
                out.bad_records += 1;
            }
            out.problems.push(problem);
        }
        Item::Digest => out.digests += 1,
    });
    out
}
