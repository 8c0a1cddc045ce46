//! Delivering notifications: a run's notifying sink without a store, and the delivery of a
//! list of notifications on a few threads at once, in batches where the channel takes them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tripline_alert::{Alert, Signal};

use super::{Channel, DeliveryError, Notification, RuleFacts, CONTEXT_SIGNALS};
use crate::sink::{AlertChange, ChangeKind, Delivery, Sink, SinkError};

/// A channel as a run's sink, without a store: it keeps the signals it is routed (for the
/// alerts' context), turns each alert change into a notification and delivers them all when
/// the run ends, on a few threads at once, each thread making the notifications it sends. Delivery is best effort within the run: what fails
/// after every retry is counted and reported.
pub struct NotifySink {
    channel: Box<dyn Channel>,
    label: String,
    workers: usize,
    signals: HashMap<usize, Signal>,
    /// Each rule's facts, made once for all of its alerts.
    facts: HashMap<String, Arc<RuleFacts>>,
    pending: Vec<Change>,
}

/// An alert change as the run gives it; it becomes a notification when the run ends.
struct Change {
    kind: ChangeKind,
    alert: Alert,
    rule: Arc<RuleFacts>,
}

impl NotifySink {
    /// A sink delivering through `channel` with `workers` deliveries at once.
    #[must_use]
    pub fn new(channel: Box<dyn Channel>, label: String, workers: usize) -> Self {
        Self {
            channel,
            label,
            workers: workers.max(1),
            signals: HashMap::new(),
            facts: HashMap::new(),
            pending: Vec::new(),
        }
    }
}

impl Sink for NotifySink {
    fn signal(&mut self, index: usize, signal: &Signal, _: Option<&str>) -> Result<(), SinkError> {
        self.signals.insert(index, signal.clone());
        Ok(())
    }

    fn alert(&mut self, change: AlertChange<'_>) -> Result<(), SinkError> {
        let rule = match change.rule {
            Some(rule) => Arc::clone(
                self.facts
                    .entry(rule.meta.id.clone())
                    .or_insert_with(|| Arc::new(RuleFacts::of(rule))),
            ),
            None => Arc::new(RuleFacts::unknown(change.alert)),
        };
        self.pending.push(Change { kind: change.kind, alert: change.alert.clone(), rule });
        Ok(())
    }

    fn finish(&mut self) -> Result<Delivery, SinkError> {
        // Each alert's context signals are moved out, not copied (copied only while another
        // alert still lists one); each notification is made by the worker that sends it,
        // while the others wait for answers.
        let mut uses: HashMap<usize, usize> = HashMap::new();
        for change in &self.pending {
            change.alert.signals.iter().for_each(|&i| *uses.entry(i).or_insert(0) += 1);
        }
        let signals = &mut self.signals;
        let mut take = |i: usize| {
            let left = uses.get_mut(&i)?;
            *left -= 1;
            if *left == 0 {
                signals.remove(&i)
            } else {
                signals.get(&i).cloned()
            }
        };
        let pending: Vec<(Change, Vec<Signal>)> = std::mem::take(&mut self.pending)
            .into_iter()
            .map(|change| {
                let mut context = Vec::new();
                for &i in &change.alert.signals {
                    // Every listed signal is taken, so the counts stay true.
                    match take(i) {
                        Some(signal) if context.len() < CONTEXT_SIGNALS => context.push(signal),
                        _ => {}
                    }
                }
                (change, context)
            })
            .collect();
        self.signals = HashMap::new();
        let size = self.channel.batch_size().max(1);
        let batches: Vec<Mutex<Vec<Made>>> = chunk_owned(pending, size)
            .into_iter()
            .map(|batch| Mutex::new(batch.into_iter().map(Made::Change).collect()))
            .collect();
        let channel = self.channel.as_ref();
        let outcomes = in_parallel(batches.len(), self.workers, |i| {
            let mut batch = batches[i].lock().unwrap_or_else(PoisonError::into_inner);
            let made: Vec<Notification> =
                std::mem::take(&mut *batch).into_iter().map(Made::into_notification).collect();
            let outcome = channel.deliver_batch(&made);
            *batch = made.into_iter().map(Made::Notification).collect();
            outcome
        });
        let mut delivery = Delivery::default();
        let mut skipped = 0;
        for (batch, outcome) in batches.into_iter().zip(outcomes) {
            let batch = batch.into_inner().unwrap_or_else(PoisonError::into_inner);
            for made in batch {
                match &outcome {
                    Some(Ok(())) => delivery.delivered += 1,
                    Some(Err(e)) => {
                        delivery.failed += 1;
                        let (alert, key) = made.names();
                        delivery.errors.push(format!("alert {alert} ({key}): {e}"));
                    }
                    None => skipped += 1,
                }
            }
        }
        if skipped > 0 {
            delivery.failed += skipped;
            delivery
                .errors
                .push(format!("{skipped} more not attempted: the receiver gave no good answer"));
        }
        if let Err(e) = self.channel.flush() {
            delivery.errors.push(e.to_string());
        }
        Ok(delivery)
    }

    fn label(&self) -> String {
        self.label.clone()
    }
}

/// One notification's delivery: `None` when it was not attempted.
pub type Outcome = Option<Result<(), DeliveryError>>;

/// An alert change on its way: the change and its context until a worker makes it the
/// notification it sends (and keeps, for the report).
enum Made {
    Change((Change, Vec<Signal>)),
    Notification(Notification),
}

impl Made {
    fn into_notification(self) -> Notification {
        match self {
            Self::Change((change, context)) => {
                Notification::new(change.kind, change.alert, change.rule, context)
            }
            Self::Notification(notification) => notification,
        }
    }

    /// The alert id and the notification key, for messages.
    fn names(&self) -> (String, String) {
        match self {
            Self::Notification(n) => (n.alert.alert_id.clone(), n.key.clone()),
            Self::Change((change, _)) => (change.alert.alert_id.clone(), String::new()),
        }
    }
}

/// `items` in runs of `size`, owned.
fn chunk_owned<T>(items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = Vec::new();
    for item in items {
        match out.last_mut() {
            Some(last) if last.len() < size => last.push(item),
            _ => out.push(vec![item]),
        }
    }
    out
}

/// Delivers `notifications` on up to `workers` threads, in batches of the channel's
/// [`Channel::batch_size`] (each batch's outcome is each of its notifications'); the outcomes
/// in the same order. Once a delivery has given up (every retry of a failure that might pass
/// spent), the receiver is taken to be down and the rest are not attempted (`None`), so a run
/// does not spend every retry of every notification on it.
pub fn deliver_all(
    channel: &dyn Channel,
    notifications: &[Notification],
    workers: usize,
) -> Vec<Outcome> {
    let batches: Vec<&[Notification]> = notifications.chunks(channel.batch_size().max(1)).collect();
    let outcomes = in_parallel(batches.len(), workers, |i| channel.deliver_batch(batches[i]));
    batches
        .iter()
        .zip(outcomes)
        .flat_map(|(batch, outcome)| std::iter::repeat_n(outcome, batch.len()))
        .collect()
}

/// Runs `deliver` for batches `0..count` on up to `workers` threads, each taking the next
/// batch when it is free; each batch's outcome, `None` for those not attempted once a delivery
/// gave up (the receiver is down).
fn in_parallel(
    count: usize,
    workers: usize,
    deliver: impl Fn(usize) -> Result<(), DeliveryError> + Sync,
) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let down = AtomicBool::new(false);
    let outcomes: Vec<Mutex<Outcome>> = (0..count).map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers.min(count) {
            scope.spawn(|| loop {
                if down.load(Ordering::Relaxed) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let outcome = deliver(i);
                if matches!(outcome, Err(DeliveryError::GaveUp { .. })) {
                    down.store(true, Ordering::Relaxed);
                }
                *outcomes[i].lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
            });
        }
    });
    outcomes.into_iter().map(|o| o.into_inner().unwrap_or_else(PoisonError::into_inner)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A channel that fails as told, counting attempts.
    struct Flaky(std::sync::atomic::AtomicUsize, fn(usize) -> Result<(), DeliveryError>);

    impl Channel for Flaky {
        fn deliver(&self, _: &Notification) -> Result<(), DeliveryError> {
            (self.1)(self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
        }
    }

    fn notifications(n: usize) -> Vec<Notification> {
        let alert = super::super::tests::alert();
        (0..n)
            .map(|_| {
                let facts = Arc::new(RuleFacts::unknown(&alert));
                Notification::new(ChangeKind::Raised, alert.clone(), facts, Vec::new())
            })
            .collect()
    }

    #[test]
    fn a_receiver_that_gave_up_is_not_tried_again_in_the_same_round_but_a_refusal_does_not_stop_it()
    {
        let down = Flaky(0.into(), |_| {
            Err(DeliveryError::GaveUp { attempts: 5, last: "HTTP 503".into() })
        });
        let outcomes = deliver_all(&down, &notifications(10), 1);
        assert!(matches!(outcomes[0], Some(Err(DeliveryError::GaveUp { .. }))));
        assert!(outcomes[1..].iter().all(Option::is_none), "the rest wait for a later round");
        let picky = Flaky(0.into(), |i| {
            if i % 2 == 0 {
                Err(DeliveryError::Refused { status: 400, body: String::new() })
            } else {
                Ok(())
            }
        });
        let outcomes = deliver_all(&picky, &notifications(10), 3);
        assert!(outcomes.iter().all(Option::is_some), "a refusal is about one notification");
        assert_eq!(outcomes.iter().filter(|o| matches!(o, Some(Ok(())))).count(), 5);
    }

    /// A channel taking `size` at once, recording the batches it was given.
    struct Batching(usize, Mutex<Vec<usize>>);

    impl Channel for Batching {
        fn deliver(&self, _: &Notification) -> Result<(), DeliveryError> {
            unreachable!("a batching channel is given batches")
        }

        fn batch_size(&self) -> usize {
            self.0
        }

        fn deliver_batch(&self, batch: &[Notification]) -> Result<(), DeliveryError> {
            self.1.lock().expect("not poisoned").push(batch.len());
            if batch.len() == 1 {
                Err(DeliveryError::Refused { status: 413, body: String::new() })
            } else {
                Ok(())
            }
        }
    }

    #[test]
    fn batches_are_delivered_whole_and_their_outcome_is_each_notifications() {
        let channel = Batching(4, Mutex::new(Vec::new()));
        let outcomes = deliver_all(&channel, &notifications(9), 2);
        let mut sizes = channel.1.into_inner().expect("not poisoned");
        sizes.sort_unstable();
        assert_eq!(sizes, [1, 4, 4]);
        assert_eq!(outcomes.len(), 9);
        assert!(outcomes[..8].iter().all(|o| matches!(o, Some(Ok(())))));
        assert!(matches!(outcomes[8], Some(Err(DeliveryError::Refused { status: 413, .. }))));
    }
}
