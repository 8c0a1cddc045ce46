//! Scanning one input: decode, find records, filter by time, evaluate, build signals.
//! Callers scan inputs in parallel; each yields a [`FileOutcome`], merged in input order.

use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tripline_alert::{CorrelationPlan, InputRef, RecordFacts, Signal};
use tripline_engine::suppress::SuppressionSet;
use tripline_engine::Engine;

use tripline_event::Record;
use tripline_event::{fields, time::parse_event_time};
use tripline_io::decode::{open, Decoded, Opened};
use tripline_io::shape::{parse, parse_stream, Item};
use tripline_io::stream::Splitter;
use tripline_io::{Input, Problem};

/// `--since`/`--until` bounds on `eventTime` (inclusive since, exclusive until).
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeRange {
    /// Records before this are skipped.
    pub since: Option<DateTime<Utc>>,
    /// Records at or after this are skipped.
    pub until: Option<DateTime<Utc>>,
}

impl TimeRange {
    /// Whether either bound is set.
    #[must_use]
    pub fn is_set(&self) -> bool {
        self.since.is_some() || self.until.is_some()
    }

    fn contains(&self, t: DateTime<Utc>) -> bool {
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u)
    }
}

/// Everything a scan evaluates records with.
pub struct Detection {
    /// The compiled rules.
    pub engine: Engine,
    /// Their correlations.
    pub plan: CorrelationPlan,
    /// The suppressions in force.
    pub suppressions: SuppressionSet,
}

/// What scanning one input found.
#[derive(Default)]
pub struct FileOutcome {
    /// Records read.
    pub records: u64,
    /// Records that could not be used (each has a problem).
    pub bad_records: u64,
    /// CloudTrail Insights records among `records`.
    pub insights: u64,
    /// Digest documents found inside the input.
    pub digests: u64,
    /// Records skipped by `--since`/`--until` (or without a usable `eventTime` when filtering).
    pub outside_range: u64,
    /// Problems, in the order met.
    pub problems: Vec<Problem>,
    /// (rule index, signal), in record order.
    pub signals: Vec<(usize, Signal)>,
    /// Signals suppressed, per suppression index (empty when none were).
    pub suppressed: Vec<u64>,
    /// Bytes read before decompression.
    pub raw_bytes: u64,
    /// More of the same input follows: a stream is scanned in parts, each given as soon as
    /// it is ready ([`scan_input_in_parts`]).
    pub partial: bool,
    /// An earlier part of the same input had an error (for the last part).
    pub earlier_errors: bool,
    /// The newest `eventTime` among its records, as written (CloudTrail writes one fixed
    /// format, so the greatest text is the newest time): how far behind a worker is.
    pub newest_event: Option<String>,
    /// The input could not be opened at all (gone, no permission, the service unreachable):
    /// nothing of it was read, so it is neither checkpointed nor acknowledged — a later run,
    /// or the queue's next delivery, tries it again.
    pub unread: bool,
}

impl FileOutcome {
    /// Any problem that is not a warning: the run exits 2.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(|p| !p.warning)
    }
}

/// Reads and scans one input: whole when it is small enough, else as a stream holding one
/// record at a time.
#[must_use]
pub fn scan_input(detection: &Detection, input: &Input, range: TimeRange) -> FileOutcome {
    let mut whole = None;
    scan_input_in_parts(detection, input, range, &mut |part| {
        whole = Some(match whole.take() {
            None => part,
            Some(before) => merged(before, part),
        });
        true
    });
    whole.unwrap_or_default()
}

/// One outcome of two parts of an input, in order.
fn merged(mut before: FileOutcome, part: FileOutcome) -> FileOutcome {
    before.records += part.records;
    before.bad_records += part.bad_records;
    before.insights += part.insights;
    before.digests += part.digests;
    before.outside_range += part.outside_range;
    before.problems.extend(part.problems);
    before.signals.extend(part.signals);
    crate::totals::add_counts(&mut before.suppressed, &part.suppressed);
    before.raw_bytes += part.raw_bytes;
    before.partial = part.partial;
    before.earlier_errors = false;
    before.newest_event = before.newest_event.max(part.newest_event);
    before
}

/// Reads and scans one input, giving its outcome to `part`: once for an input read whole; in
/// parts for a stream (stdin, a pipe, a file too large to read whole), each part as soon as it
/// is ready — a live stream's signals as they are found, a large file's every few thousand
/// records — so that output follows the stream and its signals are not all held until its end.
/// Every part but the last is [`FileOutcome::partial`]. `part` returns false when nothing
/// wants more (the output was closed): the stream is then read no further (`yes … | tripline
/// scan - | head` ends).
pub fn scan_input_in_parts(
    detection: &Detection,
    input: &Input,
    range: TimeRange,
    part: &mut dyn FnMut(FileOutcome) -> bool,
) {
    let label = input.label();
    match open(input) {
        Opened::Whole(decoded) => {
            part(scan_decoded(detection, &label, decoded, range));
        }
        Opened::Failed(problem) => {
            part(FileOutcome { problems: vec![problem], unread: true, ..FileOutcome::default() });
        }
        Opened::Stream { reader, problems, raw_bytes, live } => {
            let stop = Arc::new(AtomicBool::new(false));
            let reader = Stoppable { inner: reader, stop: Arc::clone(&stop) };
            let mut scan = Scanning::new(detection, &label, range, problems);
            scan.parts = Some(Parts {
                give: part,
                live,
                since_last: 0,
                raw_bytes: &raw_bytes,
                counted: 0,
                had_errors: false,
                stop,
            });
            parse_stream(&label, Splitter::new(reader), &mut |item| scan.item(item));
            let parts = scan.parts.take();
            let mut out = scan.finish();
            if let Some(parts) = parts {
                out.raw_bytes = parts.raw_bytes.load(Ordering::Relaxed) - parts.counted;
                out.earlier_errors = parts.had_errors;
                (parts.give)(out);
            }
        }
    }
}

/// Scans text already read (benchmarks feed it from memory).
#[must_use]
pub fn scan_decoded(
    detection: &Detection,
    label: &str,
    decoded: Decoded,
    range: TimeRange,
) -> FileOutcome {
    let mut scan = Scanning::new(detection, label, range, decoded.problems);
    parse(label, &decoded.text, &mut |item| scan.item(item));
    let mut out = scan.finish();
    out.raw_bytes = decoded.raw_bytes;
    out
}

/// At most this many problems of one input are kept (each is printed); the rest are counted,
/// so that a stream of bad records does not hold a message for each.
const PROBLEMS_KEPT: usize = 1000;

/// A streamed input's parts are given every this many records at most.
const PART_RECORDS: usize = 4096;

/// A stream that ends early once told to stop.
struct Stoppable<R> {
    inner: R,
    stop: Arc<AtomicBool>,
}

impl<R: std::io::Read> std::io::Read for Stoppable<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.stop.load(Ordering::Relaxed) {
            return Ok(0);
        }
        self.inner.read(buf)
    }
}

impl<R: std::io::BufRead> std::io::BufRead for Stoppable<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.stop.load(Ordering::Relaxed) {
            return Ok(&[]);
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
    }
}

/// Where a streamed input's parts go.
struct Parts<'p> {
    give: &'p mut dyn FnMut(FileOutcome) -> bool,
    /// Set when `give` wants no more: the stream stops.
    stop: Arc<AtomicBool>,
    /// A live stream (stdin, a pipe): a record's signals are given as soon as it is read.
    live: bool,
    /// Records since the last part.
    since_last: usize,
    /// Bytes read before decompression, so far.
    raw_bytes: &'p AtomicU64,
    /// Of those, the bytes given with earlier parts.
    counted: u64,
    /// An earlier part had an error.
    had_errors: bool,
}

/// One input being scanned, item by item.
struct Scanning<'d, 'p> {
    detection: &'d Detection,
    range: TimeRange,
    file: std::sync::Arc<str>,
    out: FileOutcome,
    /// For a stream, where its parts go.
    parts: Option<Parts<'p>>,
    /// Problems kept so far (in this part and earlier ones).
    problems_kept: usize,
    /// Problems past [`PROBLEMS_KEPT`], counted.
    more_problems: u64,
    matches: Vec<usize>,
    suppressing: Vec<usize>,
    /// The matched rules no suppression silences.
    kept: Vec<usize>,
}

impl<'d, 'p> Scanning<'d, 'p> {
    fn new(
        detection: &'d Detection,
        label: &str,
        range: TimeRange,
        problems: Vec<Problem>,
    ) -> Self {
        Self {
            detection,
            range,
            file: label.into(),
            problems_kept: problems.len(),
            out: FileOutcome { problems, ..FileOutcome::default() },
            parts: None,
            more_problems: 0,
            matches: Vec::new(),
            suppressing: Vec::new(),
            kept: Vec::new(),
        }
    }

    fn item(&mut self, item: Item<'_>) {
        match item {
            Item::Record { index, line, record } => {
                self.record(index, line, &record);
                self.part_done();
            }
            Item::Problem(problem) => {
                if problem.record.is_some() && !problem.warning {
                    self.out.bad_records += 1;
                }
                if self.problems_kept < PROBLEMS_KEPT {
                    self.problems_kept += 1;
                    self.out.problems.push(problem);
                } else {
                    self.more_problems += 1;
                }
            }
            Item::Digest => self.out.digests += 1,
        }
    }

    fn record(&mut self, index: usize, line: Option<usize>, record: &Record<'_>) {
        let Detection { engine, plan, suppressions } = self.detection;
        let out = &mut self.out;
        out.records += 1;
        if record.is_insight() {
            out.insights += 1;
        }
        if let Some(time) = record.str(fields::EVENT_TIME) {
            if out.newest_event.as_deref().is_none_or(|newest| *time > *newest) {
                out.newest_event = Some(time.into_owned());
            }
        }
        if self.range.is_set() {
            let time = record.str(fields::EVENT_TIME).and_then(|t| parse_event_time(&t));
            if !time.is_some_and(|t| self.range.contains(t)) {
                out.outside_range += 1;
                return;
            }
        }
        let (matches, suppressing, kept) =
            (&mut self.matches, &mut self.suppressing, &mut self.kept);
        matches.clear();
        engine.evaluate(record, matches);
        if matches.iter().any(|&rule| !suppressions.applies_to_none(rule)) {
            suppressions.matching(record, suppressing);
        } else {
            suppressing.clear();
        }
        kept.clear();
        for &rule in matches.iter() {
            match suppressions.suppressing(rule, suppressing) {
                Some(s) => {
                    out.suppressed.resize(suppressions.suppressions().len(), 0);
                    out.suppressed[s] += 1;
                }
                None => kept.push(rule),
            }
        }
        // The record's facts, found once for all of its signals; the last one takes them.
        if kept.is_empty() {
            return;
        }
        let mut facts = RecordFacts::of(record);
        for (i, &rule) in kept.iter().enumerate() {
            let input = InputRef { file: std::sync::Arc::clone(&self.file), record: index, line };
            let matched = &engine.rules()[rule];
            let facts_of_this =
                if i + 1 == kept.len() { std::mem::take(&mut facts) } else { facts.clone() };
            let mut signal = Signal::with_facts(matched, record, facts_of_this, input);
            if !matched.meta.dynamic_severity.is_empty() {
                signal.severity = tripline_engine::severity_for(matched, record);
            }
            plan.capture(rule, record, &mut signal);
            out.signals.push((rule, signal));
        }
    }

    /// Gives what was scanned so far as a part, when it is due.
    fn part_done(&mut self) {
        let Some(parts) = &mut self.parts else { return };
        parts.since_last += 1;
        let live_signals = parts.live && !self.out.signals.is_empty();
        if parts.since_last < PART_RECORDS && !live_signals {
            return;
        }
        parts.since_last = 0;
        let mut out = std::mem::take(&mut self.out);
        out.partial = true;
        let read = parts.raw_bytes.load(Ordering::Relaxed);
        out.raw_bytes = read - std::mem::replace(&mut parts.counted, read);
        parts.had_errors |= out.has_errors();
        if !(parts.give)(out) {
            parts.stop.store(true, Ordering::Relaxed);
        }
    }

    fn finish(mut self) -> FileOutcome {
        if self.more_problems > 0 {
            let mut note = Problem::file(
                &self.file,
                format!("{} more problem(s) in this input are not shown", self.more_problems),
            );
            note.warning = true;
            self.out.problems.push(note);
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tripline_event::{Field, OwnedRecord};
    use tripline_rule::{Expr, Rule, Test};

    #[test]
    fn a_record_matched_by_several_rules_gives_each_signal_the_same_facts() {
        let record = serde_json::json!({"eventVersion": "1.09", "eventTime": "2024-08-01T10:00:00Z",
            "eventSource": "ec2.amazonaws.com", "eventName": "AuthorizeSecurityGroupIngress", "eventID": "e1",
            "awsRegion": "eu-west-1", "sourceIPAddress": "198.51.100.7", "recipientAccountId": "111122223333",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333"},
            "requestParameters": {"groupId": "sg-1", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22,
                "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}});
        let rules: Vec<Arc<Rule>> = ["a", "b", "c"]
            .iter()
            .map(|id| {
                Arc::new(Rule::new(id, Expr::pred(Field::resolve("eventName"), Test::Exists)))
            })
            .collect();
        let mut builder = tripline_engine::EngineBuilder::new();
        for rule in &rules {
            builder.add(Arc::clone(rule));
        }
        let engine = builder.build().expect("rules compile");
        let suppressions =
            SuppressionSet::new(Vec::new(), &engine, chrono::Utc::now().date_naive())
                .expect("none");
        let detection = Detection { engine, plan: CorrelationPlan::default(), suppressions };
        let text = record.to_string();
        let decoded = Decoded { text, problems: Vec::new(), raw_bytes: 0 };
        let out = scan_decoded(&detection, "f.json", decoded, TimeRange::default());
        assert_eq!(out.signals.len(), 3);
        let owned = OwnedRecord::from_value(&record).expect("an object");
        let input = InputRef { file: "f.json".into(), record: 0, line: None };
        for (rule, signal) in &out.signals {
            let alone =
                Signal::build(&rules[*rule], &owned.record().expect("an object"), input.clone());
            assert_eq!(signal.context, alone.context, "rule {rule}");
            assert_eq!(
                (&signal.actor, &signal.account_id, &signal.event_id),
                (&alone.actor, &alone.account_id, &alone.event_id)
            );
            assert_eq!(signal.context.security_group_changes.len(), 1);
        }
    }

    #[test]
    fn an_input_that_cannot_be_opened_has_that_problem_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        // A socket's metadata reads, but opening it fails (as a file without permission does).
        let socket = dir.path().join("s.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
        let engine = tripline_engine::EngineBuilder::new().build().expect("no rules");
        let suppressions =
            SuppressionSet::new(Vec::new(), &engine, chrono::Utc::now().date_naive())
                .expect("none");
        let detection = Detection { engine, plan: CorrelationPlan::default(), suppressions };
        let out = scan_input(&detection, &Input::File(socket), TimeRange::default());
        assert_eq!(out.problems.len(), 1, "{:?}", out.problems);
        assert!(out.problems[0].reason.starts_with("cannot be read: "), "{:?}", out.problems);
        assert_eq!((out.records, out.bad_records), (0, 0));
    }
}
