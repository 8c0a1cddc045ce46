//! Model-based: random sequences of inputs (new, repeated, changed, duplicated deliveries),
//! stdin batches, restarts and closed alerts, applied to the real store and to a simple
//! in-memory model; after every step both hold the same alerts.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};

use common::{record, rule, signal};
use proptest::prelude::*;
use tripline_alert::window::{Effect, Member, RuleState};
use tripline_alert::{Alert, Signal};
use tripline_rule::Rule;
use tripline_store::{AlertFilter, Incoming, InputKey, Status, Store};

/// What is compared of an alert: id, count, event ids, first and last seen, status.
type AlertView = (String, u64, Vec<String>, Option<String>, Option<String>, Status);

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

/// The model: what the store should remember, kept in plain maps.
#[derive(Default)]
struct Model {
    done: HashMap<String, usize>,
    seen: HashSet<(String, String)>,
    states: HashMap<String, RuleState>,
    alerts: BTreeMap<String, (Alert, Status)>,
}

impl Model {
    fn ingest(
        &mut self,
        rules: &[Rule],
        input: Option<(&str, usize)>,
        signals: &[(usize, Signal)],
    ) {
        if let Some((name, version)) = input {
            if self.done.get(name) == Some(&version) {
                return;
            }
        }
        let mut order: Vec<&(usize, Signal)> = signals.iter().collect();
        order.sort_by(|a, b| a.1.time.cmp(&b.1.time).then(a.1.input.cmp(&b.1.input)));
        for (r, signal) in order {
            let rule = &rules[*r];
            let key =
                (rule.meta.id.clone(), signal.event_id.clone().expect("every record has an id"));
            if !self.seen.insert(key) {
                continue;
            }
            let member = Member::of(rule, signal, 0);
            let state = self.states.entry(rule.meta.id.clone()).or_default();
            let mut effect = state.apply(rule, member.clone(), None);
            if let Effect::Extended { alert_id, .. } = &effect {
                if self.alerts.get(alert_id).is_some_and(|(_, s)| *s == Status::Closed) {
                    state.forget_alert(alert_id);
                    effect = state.apply(rule, member, None);
                }
            }
            match effect {
                Effect::Raised(alert) => {
                    self.alerts.insert(alert.alert_id.clone(), (alert, Status::Open));
                }
                Effect::Extended { alert_id, member } => {
                    if let Some((alert, _)) = self.alerts.get_mut(&alert_id) {
                        alert.extend(&member);
                    }
                }
                _ => {}
            }
        }
        if let Some((name, version)) = input {
            self.done.insert(name.to_owned(), version);
        }
    }

    fn view(&self) -> Vec<AlertView> {
        self.alerts
            .values()
            .map(|(a, s)| {
                (
                    a.alert_id.clone(),
                    a.event_count,
                    a.event_ids.clone(),
                    a.first_seen.clone(),
                    a.last_seen.clone(),
                    *s,
                )
            })
            .collect()
    }
}

fn store_view(store: &mut Store) -> Vec<AlertView> {
    let mut alerts = store.alerts(&AlertFilter::default()).expect("list");
    alerts.sort_by(|a, b| a.alert.alert_id.cmp(&b.alert.alert_id));
    alerts
        .into_iter()
        .map(|s| {
            (
                s.alert.alert_id,
                s.alert.event_count,
                s.alert.event_ids,
                s.alert.first_seen,
                s.alert.last_seen,
                s.status,
            )
        })
        .collect()
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
                let incoming: Vec<Incoming<'_>> = signals
                    .iter()
                    .enumerate()
                    .map(|(i, (r, s))| Incoming {
                        rule: &rules[*r],
                        rule_index: *r,
                        signal: s,
                        index: i,
                        alerts: true,
                    })
                    .collect();
                let key = InputKey {
                    input: name.clone(),
                    size: 10 + *version as i64,
                    version: format!("v{version}"),
                };
                store.ingest(Some(&key), 1, &incoming).expect("ingest");
                model.ingest(&rules, Some((&name, *version)), &signals);
            }
            Step::Stdin(events) => {
                let signals = signals_of(&rules, "<stdin>", events);
                let incoming: Vec<Incoming<'_>> = signals
                    .iter()
                    .enumerate()
                    .map(|(i, (r, s))| Incoming {
                        rule: &rules[*r],
                        rule_index: *r,
                        signal: s,
                        index: i,
                        alerts: true,
                    })
                    .collect();
                store.ingest(None, 1, &incoming).expect("ingest");
                model.ingest(&rules, None, &signals);
            }
            Step::Restart => {
                drop(store);
                store = Store::open(location).expect("reopen");
            }
            Step::Close(n) => {
                if let Some(id) = model.alerts.keys().nth(*n).cloned() {
                    store
                        .set_status(&id, Status::Closed, None, "")
                        .expect("close")
                        .expect("the store has the model's alert");
                    model.alerts.get_mut(&id).expect("listed").1 = Status::Closed;
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
