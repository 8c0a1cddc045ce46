//! The final alerts are a function of the set of signals: random sets of events (clustered and
//! far apart in event time), shuffled, split into inputs, runs and batches, with restarts,
//! re-deliveries and runs killed before they commit, end in the store with exactly the alerts
//! of one sorted, uninterrupted run — for every window kind (dedup, one alert per match,
//! threshold with and without dedup, cardinality, `max_alerts`, new terms with and without
//! dedup, and correlations: event count, value count, a range with an upper bound, temporal
//! order), on both store backends; and a scan without a store says the same.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::json;
use tripline_alert::driver::{self, MemoryState};
use tripline_alert::window::{new_terms_of, Member};
use tripline_alert::{Alert, CorrelationPlan, InputRef, Signal};
use tripline_event::{Field, OwnedRecord};
use tripline_rule::correlation::{Correlation, CorrelationKind, CountCondition};
use tripline_rule::expr::CmpOp;
use tripline_rule::{Cardinality, Dedup, Expr, Logic, NewTerms, Rule, Schedule, Template, Test};
use tripline_store::{AlertFilter, Correlations, InputBatch, InputKey, Store};

/// An event: (minute after the base time, account, user, source address, service).
type Event = (i64, u8, u8, u8, u8);

const MINUTES_PER_DAY: i64 = 1440;

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2023, 7, 10, 11, 0, 0).single().expect("a valid time")
}

/// Mostly within three days, some a year away: late and far-apart records both occur.
fn minute() -> impl Strategy<Value = i64> {
    prop_oneof![
        6 => 0i64..(3 * MINUTES_PER_DAY),
        1 => -400 * MINUTES_PER_DAY..400 * MINUTES_PER_DAY,
    ]
}

fn event() -> impl Strategy<Value = Event> {
    (minute(), 0u8..2, 0u8..3, 0u8..3, 0u8..2)
}

/// A complete `AuthorizeSecurityGroupIngress` record of event number `n`.
fn record(n: usize, &(minute, account, user, ip, service): &Event) -> serde_json::Value {
    let time = base() + chrono::Duration::minutes(minute);
    let account = ["111122223333", "444455556666"][usize::from(account)];
    let user = ["alice", "bob", "carol"][usize::from(user)];
    let ip = ["198.51.100.7", "203.0.113.20", "192.0.2.44"][usize::from(ip)];
    let source = ["ec2.amazonaws.com", "iam.amazonaws.com"][usize::from(service)];
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDA6ON6E4XEGITEXAMPLE", "arn": format!("arn:aws:iam::{account}:user/{user}"),
            "accountId": account, "accessKeyId": "AKIA6ON6E4XEEXAMPLE1", "userName": user},
        "eventTime": time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "eventSource": source,
        "eventName": "AuthorizeSecurityGroupIngress",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": ip,
        "userAgent": "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.11.9",
        "requestParameters": {"groupId": "sg-0123456789abcdef0", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
            "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}},
        "responseElements": {"requestId": "5f4c1b2a-8e7d-4c3b-9a1f-2e3d4c5b6a79", "_return": true},
        "requestID": "5f4c1b2a-8e7d-4c3b-9a1f-2e3d4c5b6a79",
        "eventID": format!("e{n:04}"),
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": account,
        "eventCategory": "Management"
    })
}

fn dedup(key: &str, minutes: u64) -> Option<Dedup> {
    Some(Dedup {
        key: Template::parse(key).expect("valid"),
        period: Duration::from_secs(minutes * 60),
    })
}

fn schedule(minutes: u64, max_alerts: u32) -> Option<Schedule> {
    let interval = Duration::from_secs(minutes * 60);
    Some(Schedule { interval, lookback: interval, max_alerts })
}

/// One rule of every window kind.
fn rules() -> Vec<Rule> {
    let base = |id: &str| {
        let mut rule = Rule::new(id, Expr::pred(Field::resolve("eventName"), Test::Exists));
        rule.meta.title = format!("{id} title");
        rule
    };
    let mut rules = Vec::new();
    let mut r = base("dedup-hour-by-account");
    r.alerting.dedup = dedup("{recipientAccountId}", 60);
    rules.push(r);
    let mut r = base("dedup-day-by-service");
    r.alerting.dedup = dedup("{eventSource}", MINUTES_PER_DAY as u64);
    rules.push(r);
    rules.push(base("every-match"));
    let mut r = base("three-in-half-an-hour");
    r.alerting.dedup = dedup("{recipientAccountId}", 30);
    r.alerting.threshold = 3;
    rules.push(r);
    let mut r = base("two-per-hour-without-dedup");
    r.alerting.threshold = 2;
    rules.push(r);
    let mut r = base("two-users-per-account-hour");
    r.alerting.dedup = dedup("{recipientAccountId}", 60);
    r.alerting.threshold = 2;
    r.alerting.cardinality =
        Some(Cardinality { field: Field::resolve("userIdentity.userName"), min: 2 });
    rules.push(r);
    let mut r = base("two-alerts-per-hour");
    r.alerting.schedule = schedule(60, 2);
    rules.push(r);
    let mut r = base("one-user-alert-per-hour");
    r.alerting.dedup = dedup("{userIdentity.userName}", 10);
    r.alerting.schedule = schedule(60, 1);
    rules.push(r);
    let mut r = base("new-user-in-two-hours");
    r.alerting.new_terms = Some(NewTerms {
        fields: vec![Field::resolve("userIdentity.userName")],
        history: Duration::from_secs(2 * 3600),
    });
    rules.push(r);
    let mut r = base("new-address-per-account-day");
    r.alerting.new_terms = Some(NewTerms {
        fields: vec![Field::resolve("sourceIPAddress")],
        history: Duration::from_secs(6 * 3600),
    });
    r.alerting.dedup = dedup("{recipientAccountId}", MINUTES_PER_DAY as u64);
    rules.push(r);
    let correlation = |id: &str, kind, on: &[&str], by: &str, bounds: Vec<(CmpOp, f64)>| {
        let mut rule = base(id);
        rule.logic = Logic::Correlate(Correlation {
            kind,
            rules: on.iter().map(|s| (*s).to_owned()).collect(),
            group_by: vec![Field::resolve(by)],
            timespan: Duration::from_secs(6 * 3600),
            condition: (!bounds.is_empty()).then_some(CountCondition { bounds }),
            generate: true,
            positions: Vec::new(),
        });
        rule
    };
    let user = "userIdentity.userName";
    let count = CorrelationKind::EventCount;
    rules.push(correlation(
        "three-by-one-user",
        count.clone(),
        &["every-match"],
        user,
        vec![(CmpOp::Gte, 3.0)],
    ));
    let ip = CorrelationKind::ValueCount(Field::resolve("sourceIPAddress"));
    rules.push(correlation(
        "two-addresses-one-user",
        ip,
        &["every-match"],
        user,
        vec![(CmpOp::Gte, 2.0)],
    ));
    let range = vec![(CmpOp::Gte, 2.0), (CmpOp::Lte, 3.0)];
    let mut r = correlation(
        "two-or-three-in-an-account",
        count,
        &["every-match"],
        "recipientAccountId",
        range,
    );
    r.alerting.dedup = dedup("{recipientAccountId}", MINUTES_PER_DAY as u64);
    rules.push(r);
    let ordered = CorrelationKind::TemporalOrdered;
    rules.push(correlation(
        "any-then-an-hourly",
        ordered,
        &["every-match", "dedup-hour-by-account"],
        "eventSource",
        Vec::new(),
    ));
    rules
}

/// The rules shared, and their correlations planned.
fn planned(rules: &[Rule]) -> (Vec<Arc<Rule>>, CorrelationPlan) {
    let shared: Vec<Arc<Rule>> = rules.iter().cloned().map(Arc::new).collect();
    let Ok(plan) = CorrelationPlan::new(&shared) else { panic!("a reference names no rule") };
    (shared, plan)
}

/// Every rule's signal on each event, as read from `file` (event `n` is the `n`th record).
fn signals_of(rules: &[Rule], file: &str, events: &[(usize, Event)]) -> Vec<(usize, Signal)> {
    let (_, plan) = planned(rules);
    let mut out = Vec::new();
    for (index, (n, event)) in events.iter().enumerate() {
        let owned = OwnedRecord::from_value(&record(*n, event)).expect("an object");
        let record = owned.record().expect("an object");
        for (r, rule) in rules.iter().enumerate().filter(|(_, r)| r.correlation().is_none()) {
            let at = InputRef { file: file.into(), record: index, line: None };
            let mut signal = Signal::build(rule, &record, at);
            plan.capture(r, &record, &mut signal);
            out.push((r, signal));
        }
    }
    out
}

/// What is compared of an alert: everything a responder reads of it, event ids sorted.
type AlertView =
    (String, String, String, u64, Vec<String>, Option<String>, Option<String>, Option<String>);

fn view(alert: &Alert) -> AlertView {
    let mut ids = alert.event_ids.clone();
    ids.sort();
    (
        alert.rule_id.clone(),
        alert.alert_id.clone(),
        alert.dedup_key.clone(),
        alert.event_count,
        ids,
        alert.first_seen.clone(),
        alert.last_seen.clone(),
        alert.representative.actor.clone(),
    )
}

fn sorted(mut views: Vec<AlertView>) -> Vec<AlertView> {
    views.sort();
    views
}

/// The alerts only one side has: empty when both agree, short enough to read when not.
fn differences(got: &[AlertView], expected: &[AlertView]) -> Vec<String> {
    let only = |a: &[AlertView], b: &[AlertView], side: &str| {
        a.iter().filter(|x| !b.contains(x)).map(|x| format!("{side}: {x:?}")).collect::<Vec<_>>()
    };
    let mut out = only(got, expected, "only got");
    out.extend(only(expected, got, "only expected"));
    out
}

fn store_view(store: &mut Store) -> Vec<AlertView> {
    let alerts = store.alerts(&AlertFilter::default()).expect("list");
    sorted(alerts.iter().map(|s| view(&s.alert)).collect())
}

/// Every signal of `events`, the correlations' after the detections' (as a scan without a
/// store has them).
fn with_correlations(
    rules: &[Rule],
    file: &str,
    events: &[(usize, Event)],
) -> Vec<(usize, Signal)> {
    let mut signals = signals_of(rules, file, events);
    let (shared, plan) = planned(rules);
    let (rule_of, only): (Vec<usize>, Vec<Signal>) = signals.iter().cloned().unzip();
    signals.extend(plan.run(&shared, &rule_of, &only));
    signals
}

/// A scan without a store: every signal at once.
fn in_memory(rules: &[Rule], events: &[(usize, Event)]) -> Vec<AlertView> {
    let signals = with_correlations(rules, "all.json", events);
    let refs: Vec<&Rule> = rules.iter().collect();
    let rule_of: Vec<usize> = signals.iter().map(|(r, _)| *r).collect();
    let signals: Vec<Signal> = signals.into_iter().map(|(_, s)| s).collect();
    sorted(tripline_alert::raise(&refs, &rule_of, &signals).alerts.iter().map(view).collect())
}

/// The alerting driver fed in exactly the order given, no sorting anywhere (the correlations'
/// signals, from the whole set, mixed in among the others).
fn driven(rules: &[Rule], events: &[(usize, Event)]) -> Vec<AlertView> {
    let mut state = MemoryState::default();
    let mut signals = with_correlations(rules, "any.json", events);
    let seed = events.iter().map(|(n, e)| (*n as i64 + 1) * e.0).sum::<i64>().unsigned_abs();
    let mut rng = fastrand::Rng::with_seed(seed);
    let order: Vec<u64> = signals.iter().map(|_| rng.u64(..)).collect();
    let mut keyed: Vec<(u64, (usize, Signal))> = order.into_iter().zip(signals.drain(..)).collect();
    keyed.sort_by_key(|(k, _)| *k);
    for (i, (_, (r, signal))) in keyed.into_iter().enumerate() {
        let rule = &rules[r];
        let Ok(_) = driver::apply(
            &mut state,
            rule,
            Member::of(rule, &signal, i),
            new_terms_of(rule, &signal),
        );
    }
    sorted(state.alerts.iter().map(view).collect())
}

/// How the shuffled events reach the store.
#[derive(Debug, Clone)]
struct Plan {
    /// A permutation key per event: events are read in this order.
    order: Vec<u32>,
    /// Where the read order is cut into inputs (fractions of the length).
    cuts: Vec<u8>,
    /// Per input: 0 = read, 1 = its run is killed before it commits (read again later),
    /// 2 = read, then the process restarts, 3 = read, and delivered again under another name.
    fates: Vec<u8>,
}

fn plan(len: usize) -> impl Strategy<Value = Plan> {
    (
        prop::collection::vec(any::<u32>(), len),
        prop::collection::vec(any::<u8>(), 0..6),
        prop::collection::vec(0u8..4, 8),
    )
        .prop_map(|(order, cuts, fates)| Plan { order, cuts, fates })
}

fn ingest(store: &mut Store, rules: &[Rule], name: &str, events: &[(usize, Event)]) {
    let signals = signals_of(rules, name, events);
    let key = InputKey { input: name.to_owned(), size: 100, version: "v1".to_owned() };
    let (shared, plan) = planned(rules);
    let batch = InputBatch {
        key: Some(&key),
        records: events.len() as u64,
        incoming: common::incoming_of(rules, &signals),
        rule_set: None,
        again: None,
        revised: &[],
    };
    store.ingest_all(&[batch], Correlations { plan: &plan, rules: &shared }).expect("ingest");
}

/// The events read as `plan` says, into the store at `location`; the store's final alerts.
fn shuffled(
    location: &str,
    rules: &[Rule],
    events: &[(usize, Event)],
    plan: &Plan,
) -> Vec<AlertView> {
    let mut order: Vec<(u32, (usize, Event))> =
        plan.order.iter().copied().zip(events.iter().copied()).collect();
    order.sort_by_key(|(k, (n, _))| (*k, *n));
    let read: Vec<(usize, Event)> = order.into_iter().map(|(_, e)| e).collect();
    let mut cuts: Vec<usize> =
        plan.cuts.iter().map(|&c| usize::from(c) * read.len() / 256).collect();
    cuts.extend([0, read.len()]);
    cuts.sort_unstable();
    cuts.dedup();
    let mut store = Store::open(location).expect("open");
    let mut killed = Vec::new();
    for (i, part) in cuts.windows(2).enumerate() {
        let events = &read[part[0]..part[1]];
        let name = format!("AWSLogs/part-{i}.json");
        match plan.fates.get(i % plan.fates.len()).copied().unwrap_or(0) {
            1 => {
                // Killed before its transaction committed: nothing of it is kept, and the
                // next process reads it again, after what the others read.
                killed.push((name, events.to_vec()));
                drop(store);
                store = Store::open(location).expect("reopen after the kill");
            }
            2 => {
                ingest(&mut store, rules, &name, events);
                drop(store);
                store = Store::open(location).expect("reopen");
            }
            3 => {
                ingest(&mut store, rules, &name, events);
                ingest(&mut store, rules, &format!("{name}.redelivered"), events);
            }
            _ => ingest(&mut store, rules, &name, events),
        }
    }
    for (name, events) in killed {
        ingest(&mut store, rules, &name, &events);
    }
    store_view(&mut store)
}

/// One run over every event, in event-time order, into a new store at `location`.
fn uninterrupted(location: &str, rules: &[Rule], events: &[(usize, Event)]) -> Vec<AlertView> {
    let mut sorted: Vec<(usize, Event)> = events.to_vec();
    sorted.sort_by_key(|(n, e)| (e.0, *n));
    let mut store = Store::open(location).expect("open");
    ingest(&mut store, rules, "AWSLogs/all.json", &sorted);
    store_view(&mut store)
}

fn numbered(events: Vec<Event>) -> Vec<(usize, Event)> {
    events.into_iter().enumerate().collect()
}

fn events_and_plan() -> impl Strategy<Value = (Vec<(usize, Event)>, Plan)> {
    prop::collection::vec(event(), 1..40).prop_flat_map(|events| {
        let len = events.len();
        (Just(numbered(events)), plan(len))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Without a store: the driver fed in any order agrees with a scan of everything.
    #[test]
    fn the_driver_in_any_order_raises_what_one_sorted_scan_raises((events, plan) in events_and_plan()) {
        let rules = rules();
        let mut order: Vec<(u32, (usize, Event))> = plan.order.iter().copied().zip(events.iter().copied()).collect();
        order.sort_by_key(|(k, (n, _))| (*k, *n));
        let read: Vec<(usize, Event)> = order.into_iter().map(|(_, e)| e).collect();
        let none: Vec<String> = Vec::new();
        prop_assert_eq!(differences(&driven(&rules, &read), &in_memory(&rules, &events)), none);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn sqlite_alerts_depend_on_the_set_of_signals_alone((events, plan) in events_and_plan()) {
        let rules = rules();
        let (once, split) = (common::sqlite(), common::sqlite());
        let reference = uninterrupted(&once.url, &rules, &events);
        let none: Vec<String> = Vec::new();
        prop_assert_eq!(differences(&reference, &in_memory(&rules, &events)), none.clone(), "a store and a scan without one");
        prop_assert_eq!(differences(&shuffled(&split.url, &rules, &events, &plan), &reference), none);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn postgres_alerts_depend_on_the_set_of_signals_alone((events, plan) in events_and_plan()) {
        let rules = rules();
        let (once, split) = (common::postgres(), common::postgres());
        let reference = uninterrupted(&once.url, &rules, &events);
        let none: Vec<String> = Vec::new();
        prop_assert_eq!(differences(&shuffled(&split.url, &rules, &events, &plan), &reference), none);
    }
}

/// The minimal case: a dedup rule keyed on the service with a one-day period, `a` a
/// year after `b1` and `b2` (seven minutes apart): read together or `a b1` first, two alerts.
#[test]
fn reading_part_first_changes_nothing() {
    let rules: Vec<Rule> =
        rules().into_iter().filter(|r| r.meta.id == "dedup-day-by-service").collect();
    let a = (0usize, (389 * MINUTES_PER_DAY + 21 * 60, 0, 0, 0, 0));
    let b1 = (1usize, (54, 0, 0, 0, 0));
    let b2 = (2usize, (61, 0, 0, 0, 0));
    let once = common::sqlite();
    let reference = uninterrupted(&once.url, &rules, &[a, b1, b2]);
    assert_eq!(reference.len(), 2);
    let split = common::sqlite();
    let mut store = Store::open(&split.url).expect("open");
    ingest(&mut store, &rules, "a", &[a]);
    ingest(&mut store, &rules, "b1", &[b1]);
    ingest(&mut store, &rules, "all", &[a, b1, b2]);
    assert_eq!(store_view(&mut store), reference);
}

/// Each correlation kind fires on events made for it, and the range's upper bound takes its
/// alert back when a fourth event of the account is read later, in a later run.
#[test]
fn correlations_fire_and_an_upper_bound_takes_its_alert_back() {
    let rules = rules();
    // Account 0, alice, within one six-hour window, from two addresses, all on EC2.
    let events: Vec<(usize, Event)> =
        numbered(vec![(10, 0, 0, 0, 0), (20, 0, 0, 1, 0), (30, 0, 0, 0, 0), (40, 0, 0, 1, 0)]);
    let fired = |view: &[AlertView], rule: &str| view.iter().filter(|a| a.0 == rule).count();
    let at = common::sqlite();
    let mut store = Store::open(&at.url).expect("open");
    ingest(&mut store, &rules, "first", &events[..3]);
    let three = store_view(&mut store);
    for rule in [
        "three-by-one-user",
        "two-addresses-one-user",
        "two-or-three-in-an-account",
        "any-then-an-hourly",
    ] {
        assert_eq!(fired(&three, rule), 1, "{rule} fires on three events");
    }
    ingest(&mut store, &rules, "second", &events[3..]);
    let four = store_view(&mut store);
    assert_eq!(fired(&four, "two-or-three-in-an-account"), 0, "four is past the bound");
    assert_eq!(fired(&four, "three-by-one-user"), 1);
    // The stored signal is the window's as it is now: made again with the fourth event.
    let alerts = store.alerts(&AlertFilter::default()).expect("list");
    let alert = alerts.iter().find(|a| a.alert.rule_id == "three-by-one-user").expect("fired");
    let stored = store.signals_of(&alert.alert).expect("signals");
    assert_eq!(stored.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&stored[0].body).expect("json");
    assert_eq!(body["context"]["correlation"]["count"], 4, "{body}");
    assert_eq!(body["event_time"], "2023-07-10T06:00:00Z");
    let correlated = four.iter().find(|a| a.0 == "three-by-one-user").expect("fired");
    assert_eq!(
        correlated.5.as_deref(),
        Some("2023-07-10T06:00:00Z"),
        "dated at its window's start"
    );
    let once = common::sqlite();
    assert_eq!(four, uninterrupted(&once.url, &rules, &events));
    assert_eq!(four, in_memory(&rules, &events));
}
