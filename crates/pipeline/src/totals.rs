//! What a run reports: counts over every input it read.

use crate::scan::FileOutcome;

/// Totals over every input.
#[derive(Default)]
pub struct Totals {
    /// Inputs read.
    pub files: u64,
    /// Records read.
    pub records: u64,
    /// Records that could not be used.
    pub bad_records: u64,
    /// CloudTrail Insights records.
    pub insights: u64,
    /// Digest files and documents skipped.
    pub digests: u64,
    /// Other services' log files skipped, by service.
    pub other_services: std::collections::BTreeMap<String, u64>,
    /// Folders of a bucket left out without listing them, by what they hold.
    pub folders_skipped: std::collections::BTreeMap<String, u64>,
    /// Records outside `--since`/`--until`.
    pub outside_range: u64,
    /// Inputs with an error.
    pub bad_files: u64,
    /// Bytes read before decompression.
    pub bytes: u64,
    /// Signals kept out of alerts, per suppression.
    pub suppressed: Vec<u64>,
    /// The newest `eventTime` read, as written.
    pub newest_event: Option<String>,
}

impl Totals {
    /// The totals of a run over `listing`, before any input is read: what listing skipped.
    #[must_use]
    pub fn listed(listing: &crate::source::Listing) -> Self {
        Self {
            digests: listing.digests,
            other_services: listing.other_services.clone(),
            folders_skipped: listing.folders_skipped.clone(),
            ..Self::default()
        }
    }

    /// Adds one input's counts.
    pub fn add(&mut self, outcome: &FileOutcome) {
        self.records += outcome.records;
        self.bytes += outcome.raw_bytes;
        self.bad_records += outcome.bad_records;
        self.insights += outcome.insights;
        self.digests += outcome.digests;
        self.outside_range += outcome.outside_range;
        if !outcome.partial {
            self.bad_files += u64::from(outcome.has_errors() || outcome.earlier_errors);
        }
        add_counts(&mut self.suppressed, &outcome.suppressed);
        if outcome.newest_event > self.newest_event {
            self.newest_event.clone_from(&outcome.newest_event);
        }
    }

    /// The summary line's counts.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut other = String::new();
        if !self.other_services.is_empty() {
            let by_service: Vec<String> =
                self.other_services.iter().map(|(s, n)| format!("{s} {n}")).collect();
            let files: u64 = self.other_services.values().sum();
            other =
                format!("; {files} other service log file(s) skipped ({})", by_service.join(", "));
        }
        if !self.folders_skipped.is_empty() {
            let by_kind: Vec<String> =
                self.folders_skipped.iter().map(|(s, n)| format!("{s} {n}")).collect();
            let folders: u64 = self.folders_skipped.values().sum();
            other += &format!(
                "; {folders} folder(s) of digests and other services not listed ({})",
                by_kind.join(", ")
            );
        }
        let counts = format!(
            "scanned {} file(s), {:.1} MB ({} with errors, {} digest file(s) skipped), {} record(s) ({} bad, {} insight, {} outside --since/--until); {} signal(s) suppressed",
            self.files, self.bytes as f64 / 1e6, self.bad_files, self.digests, self.records, self.bad_records, self.insights, self.outside_range,
            self.suppressed.iter().sum::<u64>()
        );
        counts + &other
    }
}

/// Adds `more` to `total` place by place (counts per suppression), growing `total` as needed.
pub(crate) fn add_counts(total: &mut Vec<u64>, more: &[u64]) {
    if total.len() < more.len() {
        total.resize(more.len(), 0);
    }
    for (total, n) in total.iter_mut().zip(more) {
        *total += n;
    }
}
