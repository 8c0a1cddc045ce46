//! Model-based: random sequences of inputs (new, repeated, changed, duplicated deliveries),
//! stdin batches, restarts and closed alerts, applied to the real store and to an independent
//! in-memory model of the alerting rules (it shares no code with the alerting driver); after
//! every step both hold the same alerts.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};

use common::{record, rule, signal};
use proptest::prelude::*;
use tripline_alert::Signal;
use tripline_rule::Rule;
use tripline_store::{AlertFilter, InputKey, Status, Store};

/// What is compared of an alert: rule, dedup key, count, event ids, first and last seen,
/// status (sorted by rule, key and first event id, which tell alerts apart).
type AlertView = (String, String, u64, Vec<String>, Option<String>, Option<String>, Status);

/// An event: (id number, minute, account number).
type Event = (u8, u16, u8);

#[derive(Debug, Clone)]
enum Step {
    /// Input `n` at `version` (its content is fixed by both).
    Input(usize, usize),
    /// A batch read from stdin (no checkpoint).
    Stdin(Vec<Event>),
    /// The process ends and a new one opens the store.
    Restart,
    /// A responder closes the `n`th alert (by id order), if there is one.
    Close(usize),
}

fn events() -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec((0u8..24, 0u16..240, 0u8..2), 0..6)
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![
            4 => (0usize..3, 0usize..2).prop_map(|(n, v)| Step::Input(n, v)),
            1 => events().prop_map(Step::Stdin),
            1 => Just(Step::Restart),
            1 => (0usize..8).prop_map(Step::Close),
        ],
        1..12,
    )
}

fn rules() -> Vec<Rule> {
    vec![rule("dedup-hour", Some(60), 1), rule("every-match", None, 1), rule("pairs", Some(30), 2)]
}

const ACCOUNTS: [&str; 2] = ["111122223333", "444455556666"];

/// The signals of every rule for some events, as read from `file`.
fn signals_of(rules: &[Rule], file: &str, events: &[Event]) -> Vec<(usize, Signal)> {
    let mut out = Vec::new();
    for (index, &(id, minute, account)) in events.iter().enumerate() {
        let record = record(&format!("e{id}"), u32::from(minute), ACCOUNTS[usize::from(account)]);
        for (r, rule) in rules.iter().enumerate() {
            out.push((r, signal(rule, &record, file, index)));
        }
    }
    out
}

/// One rule as the model knows it: dedup period in minutes (none: every signal is its own
/// alert) and threshold.
#[derive(Clone, Copy)]
struct Spec {
    period: Option<i64>,
    threshold: usize,
}

fn spec(rule: &Rule) -> Spec {
    let period = rule
        .alerting
        .dedup
        .as_ref()
        .map(|d| i64::try_from(d.period.as_secs() / 60).expect("minutes"));
    Spec { period, threshold: rule.alerting.threshold as usize }
}

/// An alert as the model tells it apart: (rule, dedup key, first event id).
type AlertKey = (String, String, String);

/// The model's alert: its events (minute, id), first and last minute, status.
#[derive(Debug, Clone)]
struct ModelAlert {
    ids: Vec<(u16, String)>,
    first: u16,
    last: u16,
    status: Status,
}

/// A window: the signals waiting for the threshold, the alert it raised.
#[derive(Default)]
struct Window {
    pending: Vec<(String, u16)>,
    alert: Option<AlertKey>,
}

/// The model, written from the rules as the README states them and independent of the code
/// under test (no `RuleState`, no driver): per rule and dedup key, windows of the period
/// aligned on the hour (the test's times are whole hours from the epoch); an alert when one
/// holds `threshold` signals; a closed alert's window starts again, so its next signal opens a
/// new one; a signal seen before (same rule and event id) is ignored; an input already
/// processed at the same version is not read again. Each input's signals are taken in event
/// time, ties in record order.
#[derive(Default)]
struct Model {
    done: HashMap<String, usize>,
    seen: HashSet<(String, String)>,
    windows: HashMap<(String, String, i64), Window>,
    alerts: BTreeMap<AlertKey, ModelAlert>,
}

impl Model {
    fn ingest(&mut self, rules: &[Rule], input: Option<(&str, usize)>, events: &[Event]) {
        if let Some((name, version)) = input {
            if self.done.get(name) == Some(&version) {
                return;
            }
        }
        let mut order: Vec<(usize, &Event)> = events.iter().enumerate().collect();
        order.sort_by_key(|&(index, &(_, minute, _))| (minute, index));
        for (_, &(id, minute, account)) in order {
            for rule in rules {
                self.one(rule, &format!("e{id}"), minute, ACCOUNTS[usize::from(account)]);
            }
        }
        if let Some((name, version)) = input {
            self.done.insert(name.to_owned(), version);
        }
    }

    fn one(&mut self, rule: &Rule, id: &str, minute: u16, account: &str) {
        let rule_id = rule.meta.id.clone();
        if !self.seen.insert((rule_id.clone(), id.to_owned())) {
            return;
        }
        let Spec { period, threshold } = spec(rule);
        let (period, key) = match period {
            Some(p) => (p, account.to_owned()),
            None if threshold == 1 => {
                let alert = ModelAlert {
                    ids: vec![(minute, id.to_owned())],
                    first: minute,
                    last: minute,
                    status: Status::Open,
                };
                self.alerts.insert((rule_id, String::new(), id.to_owned()), alert);
                return;
            }
            None => (60, String::new()),
        };
        let t = i64::from(minute);
        let start = t.div_euclid(period) * period;
        let window = self.windows.entry((rule_id.clone(), key.clone(), start)).or_default();
        if window.alert.as_ref().is_some_and(|a| self.alerts[a].status == Status::Closed) {
            *window = Window::default();
        }
        if let Some(alert) = &window.alert {
            let alert = self.alerts.get_mut(alert).expect("raised");
            alert.ids.push((minute, id.to_owned()));
            alert.first = alert.first.min(minute);
            alert.last = alert.last.max(minute);
            return;
        }
        window.pending.push((id.to_owned(), minute));
        if window.pending.len() >= threshold {
            let ids: Vec<(u16, String)> =
                window.pending.iter().map(|(i, minute)| (*minute, i.clone())).collect();
            let first = window.pending.iter().map(|p| p.1).min().expect("not empty");
            let last = window.pending.iter().map(|p| p.1).max().expect("not empty");
            let alert_key = (rule_id, key, ids[0].1.clone());
            window.pending.clear();
            window.alert = Some(alert_key.clone());
            self.alerts.insert(alert_key, ModelAlert { ids, first, last, status: Status::Open });
        }
    }

    fn view(&self) -> Vec<AlertView> {
        let time = |m: u16| Some(format!("2024-08-01T{:02}:{:02}:00Z", 10 + m / 60, m % 60));
        let views = self
            .alerts
            .iter()
            .map(|((rule, key, _), a)| {
                (
                    rule.clone(),
                    key.clone(),
                    a.ids.len() as u64,
                    // The README: the ids of the earliest 100 events, by time, ties by id.
                    {
                        let mut by_time = a.ids.clone();
                        by_time.sort();
                        by_time.into_iter().take(100).map(|(_, id)| id).collect()
                    },
                    time(a.first),
                    time(a.last),
                    a.status,
                )
            })
            .collect::<Vec<AlertView>>();
        sorted(views)
    }
}

/// Views in the order both sides list them: rule, key, first listed id.
fn sorted(mut views: Vec<AlertView>) -> Vec<AlertView> {
    views.sort_by(|a, b| (&a.0, &a.1, a.3.first()).cmp(&(&b.0, &b.1, b.3.first())));
    views
}

fn store_view(store: &mut Store) -> Vec<AlertView> {
    let alerts: Vec<AlertView> = store
        .alerts(&AlertFilter::default())
        .expect("list")
        .into_iter()
        .map(|s| {
            (
                s.alert.rule_id,
                s.alert.dedup_key,
                s.alert.event_count,
                s.alert.event_ids,
                s.alert.first_seen,
                s.alert.last_seen,
                s.status,
            )
        })
        .collect();
    sorted(alerts)
}

fn check(
    location: &str,
    contents: &[Vec<Vec<Event>>],
    steps: &[Step],
) -> Result<(), TestCaseError> {
    let rules = rules();
    let mut store = Store::open(location).expect("open");
    let mut model = Model::default();
    for step in steps {
        match step {
            Step::Input(n, version) => {
                let name = format!("AWSLogs/input-{n}.json.gz");
                let signals = signals_of(&rules, &name, &contents[*n][*version]);
                let incoming = common::incoming_of(&rules, &signals);
                let key = InputKey {
                    input: name.clone(),
                    size: 10 + *version as i64,
                    version: format!("v{version}"),
                };
                store.ingest(Some(&key), 1, &incoming).expect("ingest");
                model.ingest(&rules, Some((&name, *version)), &contents[*n][*version]);
            }
            Step::Stdin(events) => {
                let signals = signals_of(&rules, "<stdin>", events);
                let incoming = common::incoming_of(&rules, &signals);
                store.ingest(None, 1, &incoming).expect("ingest");
                model.ingest(&rules, None, events);
            }
            Step::Restart => {
                drop(store);
                store = Store::open(location).expect("reopen");
            }
            Step::Close(n) => {
                if let Some(key) = model.alerts.keys().nth(*n).cloned() {
                    let (rule, dedup_key, first) = &key;
                    let stored = store.alerts(&AlertFilter::default()).expect("list");
                    let id = stored
                        .iter()
                        .find(|s| {
                            &s.alert.rule_id == rule
                                && &s.alert.dedup_key == dedup_key
                                && s.alert.event_ids.contains(first)
                        })
                        .map(|s| s.alert.alert_id.clone())
                        .expect("the store has the model's alert");
                    store
                        .set_status(&id, Status::Closed, None, "")
                        .expect("close")
                        .expect("listed");
                    model.alerts.get_mut(&key).expect("listed").status = Status::Closed;
                }
            }
        }
        prop_assert_eq!(store_view(&mut store), model.view(), "after {:?}", step);
    }
    Ok(())
}

fn contents() -> impl Strategy<Value = Vec<Vec<Vec<Event>>>> {
    // Three inputs, two versions each; a second version mostly grows the first.
    prop::collection::vec(
        (events(), events())
            .prop_map(|(first, more)| vec![first.clone(), first.into_iter().chain(more).collect()]),
        3,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn sqlite_store_agrees_with_the_model(contents in contents(), steps in steps()) {
        let at = common::sqlite();
        check(&at.url, &contents, &steps)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn postgres_store_agrees_with_the_model(contents in contents(), steps in steps()) {
        let at = common::postgres();
        check(&at.url, &contents, &steps)?;
    }
}
