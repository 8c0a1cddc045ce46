//! What a long-running process (`tripline run`) has done, as Prometheus reads it: counters
//! that only grow, and a few gauges. The process adds to them as it goes; an HTTP endpoint
//! renders them in Prometheus's text format (version 0.0.4).

use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// The counters and gauges; shared between the worker and the endpoint.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Records read.
    pub records: AtomicU64,
    /// Bytes read before decompression.
    pub bytes: AtomicU64,
    /// Records that could not be used.
    pub bad_records: AtomicU64,
    /// Inputs with an error.
    pub bad_inputs: AtomicU64,
    /// Signals new to the store.
    pub signals: AtomicU64,
    /// Alerts raised.
    pub alerts_raised: AtomicU64,
    /// Alerts extended.
    pub alerts_extended: AtomicU64,
    /// Notifications delivered to outputs.
    pub notifications_sent: AtomicU64,
    /// Notifications whose delivery failed (to be tried again).
    pub notifications_failed: AtomicU64,
    /// Notifications dead-lettered.
    pub notifications_dead: AtomicU64,
    /// Queue messages received.
    pub messages_received: AtomicU64,
    /// Queue messages that can never succeed.
    pub messages_bad: AtomicU64,
    /// Queue messages received and not yet done (a gauge).
    pub messages_in_flight: AtomicU64,
    /// Polls of the sources.
    pub polls: AtomicU64,
    /// Store write transactions run.
    pub store_transactions: AtomicU64,
    /// Microseconds spent waiting for the store's write lock.
    pub store_waiting_us: AtomicU64,
    /// Microseconds spent in write transactions, the lock held.
    pub store_holding_us: AtomicU64,
    /// Whether the process is taking work (the store is open, the sources polled): `/readyz`.
    pub ready: AtomicBool,
    newest_event: Mutex<Option<DateTime<Utc>>>,
}

impl Metrics {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The store connection's writing time so far (its totals: they replace what was set).
    pub fn store_timings(&self, timings: &tripline_store::WriteTimings) {
        let micros = |d: std::time::Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.store_transactions.store(timings.transactions, Ordering::Relaxed);
        self.store_waiting_us.store(micros(timings.waiting), Ordering::Relaxed);
        self.store_holding_us.store(micros(timings.holding), Ordering::Relaxed);
    }

    /// Notes an event time read (as CloudTrail writes it); the newest one is kept.
    pub fn saw_event(&self, time: &str) {
        let Some(time) = tripline_event::time::parse_event_time(time) else { return };
        let mut newest =
            self.newest_event.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if newest.is_none_or(|n| time > n) {
            *newest = Some(time);
        }
    }

    /// The text Prometheus scrapes, `now` being when it is asked.
    #[must_use]
    pub fn render(&self, now: DateTime<Utc>) -> String {
        let mut out = String::new();
        let counters: [(&str, &str, &AtomicU64); 15] = [
            ("tripline_records_total", "CloudTrail records read.", &self.records),
            ("tripline_bytes_total", "Bytes read before decompression.", &self.bytes),
            ("tripline_bad_records_total", "Records that could not be used.", &self.bad_records),
            ("tripline_bad_inputs_total", "Inputs read with an error.", &self.bad_inputs),
            ("tripline_signals_total", "Signals new to the store.", &self.signals),
            ("tripline_alerts_raised_total", "Alerts raised.", &self.alerts_raised),
            (
                "tripline_alerts_extended_total",
                "Alerts extended by new events.",
                &self.alerts_extended,
            ),
            (
                "tripline_notifications_sent_total",
                "Notifications delivered to outputs.",
                &self.notifications_sent,
            ),
            (
                "tripline_notifications_failed_total",
                "Notification deliveries that failed (tried again later).",
                &self.notifications_failed,
            ),
            (
                "tripline_notifications_dead_total",
                "Notifications dead-lettered.",
                &self.notifications_dead,
            ),
            (
                "tripline_queue_messages_received_total",
                "Queue messages received.",
                &self.messages_received,
            ),
            (
                "tripline_queue_messages_bad_total",
                "Queue messages that can never succeed.",
                &self.messages_bad,
            ),
            ("tripline_polls_total", "Polls of the sources.", &self.polls),
            (
                "tripline_store_transactions_total",
                "Store write transactions run.",
                &self.store_transactions,
            ),
            (
                "tripline_queue_messages_in_flight",
                "Queue messages received and not yet done.",
                &self.messages_in_flight,
            ),
        ];
        for (name, help, value) in counters {
            let kind = if name.ends_with("_total") { "counter" } else { "gauge" };
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        let seconds: [(&str, &str, &AtomicU64); 2] = [
            (
                "tripline_store_lock_wait_seconds_total",
                "Time spent waiting for the store's write lock (other workers hold it meanwhile).",
                &self.store_waiting_us,
            ),
            (
                "tripline_store_transaction_seconds_total",
                "Time spent in store write transactions, the lock held.",
                &self.store_holding_us,
            ),
        ];
        for (name, help, micros) in seconds {
            let value = micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        }
        let newest = *self.newest_event.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(newest) = newest {
            let lag = (now - newest).num_milliseconds() as f64 / 1000.0;
            let _ = writeln!(out, "# HELP tripline_lag_seconds Now minus the newest event time read.\n# TYPE tripline_lag_seconds gauge\ntripline_lag_seconds {lag}");
            let _ = writeln!(out, "# HELP tripline_newest_event_timestamp_seconds The newest event time read.\n# TYPE tripline_newest_event_timestamp_seconds gauge\ntripline_newest_event_timestamp_seconds {}", newest.timestamp());
        }
        let ready = u8::from(self.ready.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP tripline_ready Whether the process is taking work.\n# TYPE tripline_ready gauge\ntripline_ready {ready}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_has_help_and_type_and_the_lag_follows_the_newest_event() {
        let metrics = Metrics::default();
        Metrics::add(&metrics.records, 480);
        metrics.saw_event("2024-08-01T09:00:00Z");
        metrics.saw_event("2024-08-01T10:00:00Z");
        metrics.saw_event("2024-08-01T08:00:00Z");
        let now = "2024-08-01T10:05:00Z".parse().expect("a time");
        let text = metrics.render(now);
        assert!(text.contains("tripline_records_total 480\n"), "{text}");
        assert!(text.contains("tripline_lag_seconds 300\n"), "{text}");
        assert!(text.contains("tripline_ready 0\n"));
        let timings = tripline_store::WriteTimings {
            transactions: 3,
            waiting: std::time::Duration::from_millis(250),
            holding: std::time::Duration::from_micros(1_500_000),
        };
        metrics.store_timings(&timings);
        let text = metrics.render(now);
        assert!(text.contains("tripline_store_transactions_total 3\n"), "{text}");
        assert!(text.contains("tripline_store_lock_wait_seconds_total 0.25\n"), "{text}");
        assert!(text.contains("tripline_store_transaction_seconds_total 1.5\n"), "{text}");
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(' ').next().expect("a name");
            assert!(
                text.contains(&format!("# HELP {name} "))
                    && text.contains(&format!("# TYPE {name} ")),
                "{name}"
            );
            assert!(line.split(' ').nth(1).expect("a value").parse::<f64>().is_ok(), "{line}");
        }
    }
}
