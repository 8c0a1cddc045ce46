//! The store's behaviour, run against SQLite and PostgreSQL alike.

mod common;

use common::{key, record, rule, signal, Location};
use tripline_alert::Signal;
use tripline_rule::{Rule, Severity};
use tripline_store::{AlertFilter, Correlations, Incoming, InputBatch, Status, Store};

fn incoming<'a>(rule: &'a Rule, signals: &'a [Signal]) -> Vec<Incoming<'a>> {
    signals
        .iter()
        .enumerate()
        .map(|(index, signal)| Incoming { rule, rule_index: 0, signal, index, alerts: true })
        .collect()
}

/// Signals of `rule` for (event id, minute, account) triples, read from `file`.
fn signals(rule: &Rule, file: &str, events: &[(&str, u32, &str)]) -> Vec<Signal> {
    events
        .iter()
        .enumerate()
        .map(|(i, (id, minute, account))| signal(rule, &record(id, *minute, account), file, i))
        .collect()
}

fn counts(store: &mut Store) -> Vec<(String, u64, Vec<String>)> {
    let alerts = store.alerts(&AlertFilter::default()).expect("list");
    alerts
        .into_iter()
        .map(|a| (a.alert.dedup_key, a.alert.event_count, a.alert.event_ids))
        .collect()
}

both_stores!(opening_creates_and_migrates_the_schema_once, |at: Location| {
    let mut store = Store::open(&at.url).expect("open");
    let version = store.schema_version().expect("version");
    assert!(version >= 1);
    drop(store);
    let mut again = Store::open(&at.url).expect("reopen");
    assert_eq!(again.schema_version().expect("version"), version);
});

both_stores!(an_input_is_ingested_once, |at: Location| {
    let r = rule("sg-created", Some(60), 1);
    let s = signals(&r, "a.json", &[("e1", 0, "111122223333"), ("e2", 5, "111122223333")]);
    let mut store = Store::open(&at.url).expect("open");
    let first = store.ingest(Some(&key("a.json")), 2, &incoming(&r, &s)).expect("ingest");
    assert_eq!((first.new_signals.len(), first.raised.len()), (2, 1));
    assert!(store.is_done(&key("a.json")).expect("checkpoint"));
    let again = store.ingest(Some(&key("a.json")), 2, &incoming(&r, &s)).expect("ingest again");
    assert!(again.skipped);
    assert_eq!(
        counts(&mut store),
        vec![("111122223333".to_owned(), 2, vec!["e1".to_owned(), "e2".to_owned()])]
    );
});

both_stores!(a_changed_input_is_read_again_but_its_signals_are_recognised, |at: Location| {
    let r = rule("sg-created", Some(60), 1);
    let old = signals(&r, "a.json", &[("e1", 0, "111122223333")]);
    let grown = signals(&r, "a.json", &[("e1", 0, "111122223333"), ("e2", 1, "111122223333")]);
    let mut store = Store::open(&at.url).expect("open");
    store.ingest(Some(&key("a.json")), 1, &incoming(&r, &old)).expect("ingest");
    let mut changed = key("a.json");
    changed.size = 200;
    assert!(!store.is_done(&changed).expect("checkpoint"));
    let out = store.ingest(Some(&changed), 2, &incoming(&r, &grown)).expect("ingest changed");
    assert_eq!((out.duplicates, out.new_signals.clone(), out.extended.len()), (1, vec![1], 1));
    assert_eq!(
        counts(&mut store),
        vec![("111122223333".to_owned(), 2, vec!["e1".to_owned(), "e2".to_owned()])]
    );
});

both_stores!(duplicate_deliveries_add_no_signals, |at: Location| {
    let r = rule("sg-created", None, 1);
    let s = signals(&r, "a.json", &[("e1", 0, "111122223333")]);
    let copy = signals(&r, "copy.json", &[("e1", 0, "111122223333")]);
    let mut store = Store::open(&at.url).expect("open");
    store.ingest(Some(&key("a.json")), 1, &incoming(&r, &s)).expect("ingest");
    let out = store.ingest(Some(&key("copy.json")), 1, &incoming(&r, &copy)).expect("ingest copy");
    assert_eq!((out.duplicates, out.raised.len()), (1, 0));
    assert_eq!(counts(&mut store).len(), 1);
});

both_stores!(new_inputs_extend_alerts_whose_window_is_open, |at: Location| {
    let r = rule("sg-created", Some(60), 1);
    let mut store = Store::open(&at.url).expect("open");
    let first = signals(&r, "a.json", &[("e1", 0, "111122223333"), ("e2", 10, "444455556666")]);
    store.ingest(Some(&key("a.json")), 2, &incoming(&r, &first)).expect("ingest");
    drop(store);
    // A later process: the window state comes back from the store.
    let mut store = Store::open(&at.url).expect("reopen");
    let later = signals(&r, "b.json", &[("e3", 30, "111122223333"), ("e4", 75, "444455556666")]);
    let out = store.ingest(Some(&key("b.json")), 2, &incoming(&r, &later)).expect("ingest later");
    assert_eq!((out.extended.len(), out.raised.len()), (1, 1));
    let mut got = counts(&mut store);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("111122223333".to_owned(), 2, vec!["e1".to_owned(), "e3".to_owned()]),
            ("444455556666".to_owned(), 1, vec!["e2".to_owned()]),
            ("444455556666".to_owned(), 1, vec!["e4".to_owned()]),
        ]
    );
});

both_stores!(thresholds_count_across_inputs_and_restarts, |at: Location| {
    let r = rule("sg-burst", Some(60), 3);
    let mut store = Store::open(&at.url).expect("open");
    let two = signals(&r, "a.json", &[("e1", 0, "111122223333"), ("e2", 1, "111122223333")]);
    assert!(store
        .ingest(Some(&key("a.json")), 2, &incoming(&r, &two))
        .expect("ingest")
        .raised
        .is_empty());
    drop(store);
    let mut store = Store::open(&at.url).expect("reopen");
    let third = signals(&r, "b.json", &[("e3", 2, "111122223333")]);
    assert_eq!(
        store.ingest(Some(&key("b.json")), 1, &incoming(&r, &third)).expect("ingest").raised.len(),
        1
    );
    assert_eq!(
        counts(&mut store),
        vec![(
            "111122223333".to_owned(),
            3,
            vec!["e1".to_owned(), "e2".to_owned(), "e3".to_owned()]
        )]
    );
});

both_stores!(a_closed_alert_stays_closed_and_new_activity_raises_another, |at: Location| {
    let r = rule("sg-created", Some(60), 1);
    let mut store = Store::open(&at.url).expect("open");
    let first = signals(&r, "a.json", &[("e1", 0, "111122223333")]);
    let raised =
        store.ingest(Some(&key("a.json")), 1, &incoming(&r, &first)).expect("ingest").raised;
    let closed = store
        .set_status(&raised[0].alert_id, Status::Closed, None, "expected change window")
        .expect("close")
        .expect("found");
    assert_eq!(closed.status, Status::Closed);
    assert_eq!(closed.notes[0].text, "expected change window");
    let later = signals(&r, "b.json", &[("e2", 5, "111122223333")]);
    let out = store.ingest(Some(&key("b.json")), 1, &incoming(&r, &later)).expect("ingest");
    assert_eq!((out.raised.len(), out.extended.len()), (1, 0));
    let closed_now = store.alert(&raised[0].alert_id).expect("read").expect("found");
    assert_eq!((closed_now.status, closed_now.alert.event_count), (Status::Closed, 1));
});

both_stores!(alerts_are_listed_filtered_shown_and_acknowledged, |at: Location| {
    let mut low = rule("sg-created", None, 1);
    low.meta.severity = Some(Severity::Low);
    let mut high = rule("sg-opened", None, 1);
    high.meta.severity = Some(Severity::High);
    let mut store = Store::open(&at.url).expect("open");
    let a = signals(&low, "a.json", &[("e1", 0, "111122223333")]);
    let b = signals(&high, "a.json", &[("e2", 90, "111122223333")]);
    let mut all = incoming(&low, &a);
    all.extend(incoming(&high, &b));
    store.ingest(Some(&key("a.json")), 2, &all).expect("ingest");
    let ids = |store: &mut Store, filter: AlertFilter| -> Vec<String> {
        store.alerts(&filter).expect("list").into_iter().map(|a| a.alert.rule_id).collect()
    };
    assert_eq!(ids(&mut store, AlertFilter::default()), vec!["sg-created", "sg-opened"]);
    assert_eq!(
        ids(
            &mut store,
            AlertFilter { min_severity: Some(Severity::Medium), ..AlertFilter::default() }
        ),
        vec!["sg-opened"]
    );
    assert_eq!(
        ids(&mut store, AlertFilter { rule: Some("sg-created".into()), ..AlertFilter::default() }),
        vec!["sg-created"]
    );
    assert_eq!(
        ids(
            &mut store,
            AlertFilter { since: Some("2024-08-01T11:00:00Z".into()), ..AlertFilter::default() }
        ),
        vec!["sg-opened"]
    );
    let opened = store
        .alerts(&AlertFilter { rule: Some("sg-opened".into()), ..AlertFilter::default() })
        .expect("list")
        .remove(0);
    let by_prefix =
        store.alert(&opened.alert.alert_id[..6]).expect("read").expect("found by prefix");
    assert_eq!(by_prefix.alert.alert_id, opened.alert.alert_id);
    let stored = store.signals_of(&opened.alert).expect("signals");
    assert_eq!(stored.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&stored[0].body).expect("json");
    assert_eq!(body["event_id"], "e2");
    assert_eq!(body["actor"]["arn"], "arn:aws:iam::111122223333:user/alice");
    assert_eq!(
        stored[0].body,
        serde_json::to_string(&b[0]).expect("json"),
        "the stored signal is the signal as written"
    );
    let request: serde_json::Value =
        serde_json::from_str(stored[0].request_parameters.as_deref().expect("kept")).expect("json");
    assert_eq!(request["groupName"], "web");
    assert_eq!(request["vpcId"], "vpc-0a1b2c3d4e5f60718");
    let acked = store
        .set_status(&opened.alert.alert_id, Status::Acknowledged, Some("dana"), "looking")
        .expect("ack")
        .expect("found");
    assert_eq!((acked.status, acked.assignee.as_deref()), (Status::Acknowledged, Some("dana")));
    assert_eq!(
        ids(
            &mut store,
            AlertFilter { status: Some(Status::Acknowledged), ..AlertFilter::default() }
        ),
        vec!["sg-opened"]
    );
    assert_eq!(
        ids(&mut store, AlertFilter { status: Some(Status::Open), ..AlertFilter::default() }),
        vec!["sg-created"]
    );
    assert!(store
        .set_status("ffffffffffffffff", Status::Closed, None, "")
        .expect("no error")
        .is_none());
});

both_stores!(stdin_has_no_checkpoint_but_its_signals_are_kept_once, |at: Location| {
    let r = rule("sg-created", None, 1);
    let s = signals(&r, "<stdin>", &[("e1", 0, "111122223333")]);
    let mut store = Store::open(&at.url).expect("open");
    assert_eq!(store.ingest(None, 1, &incoming(&r, &s)).expect("ingest").raised.len(), 1);
    let again = store.ingest(None, 1, &incoming(&r, &s)).expect("ingest again");
    assert_eq!((again.skipped, again.duplicates, again.raised.len()), (false, 1, 0));
});

both_stores!(
    an_earlier_event_read_later_joins_its_window_alert_under_the_same_id,
    |at: Location| {
        let r = rule("sg-created", Some(60), 1);
        let later = signals(&r, "a.json", &[("e2", 30, "111122223333")]);
        let earlier = signals(&r, "b.json", &[("e1", 0, "111122223333")]);
        // The reference: the earlier file read first.
        let reference = {
            let other = common::sqlite();
            let mut store = Store::open(&other.url).expect("open");
            store.ingest(Some(&key("b.json")), 1, &incoming(&r, &earlier)).expect("ingest");
            store.ingest(Some(&key("a.json")), 1, &incoming(&r, &later)).expect("ingest");
            store.alerts(&AlertFilter::default()).expect("list").remove(0).alert
        };
        let mut store = Store::open(&at.url).expect("open");
        let first = store.ingest(Some(&key("a.json")), 1, &incoming(&r, &later)).expect("ingest");
        // The window names the alert: raised by the later event, it already has its final id.
        assert_eq!(first.raised[0].alert_id, reference.alert_id);
        assert_eq!(first.raised[0].first_seen.as_deref(), Some("2024-08-01T10:30:00Z"));
        let second =
            store.ingest(Some(&key("b.json")), 1, &incoming(&r, &earlier)).expect("ingest");
        assert_eq!(second.extended.len(), 1);
        let extended = &second.extended[0];
        assert_eq!(extended.alert_id, reference.alert_id);
        assert!(extended.previous_ids.is_empty());
        let all = store.alerts(&AlertFilter::default()).expect("list");
        assert_eq!(all.len(), 1);
        let a = &all[0].alert;
        // The earliest event speaks for it now, as in the store that read it first.
        assert_eq!(
            (&a.alert_id, &a.first_seen, &a.title, a.event_count),
            (&reference.alert_id, &reference.first_seen, &reference.title, 2)
        );
        // A third, later event extends it.
        let third = signals(&r, "c.json", &[("e3", 40, "111122223333")]);
        let out = store.ingest(Some(&key("c.json")), 1, &incoming(&r, &third)).expect("ingest");
        assert_eq!(out.extended[0].alert_id, reference.alert_id);
        assert_eq!(store.alerts(&AlertFilter::default()).expect("list")[0].alert.event_count, 3);
    }
);

/// Ingests `signals` of `input` as evaluated again, in full, by `rule`.
fn again(
    store: &mut Store,
    input: &str,
    rule: &Rule,
    signals: &[Signal],
) -> tripline_store::Ingested {
    let plan = tripline_alert::CorrelationPlan::default();
    let revised = [rule.meta.id.as_str()];
    let batch = InputBatch {
        key: Some(&key(input)),
        records: signals.len() as u64,
        incoming: incoming(rule, signals),
        rule_set: None,
        again: Some(&[]),
        revised: &revised,
    };
    store.ingest_all(&[batch], Correlations { plan: &plan, rules: &[] }).expect("ingest").remove(0)
}

both_stores!(a_changed_rule_that_no_longer_matches_closes_its_alerts, |at: Location| {
    let r = rule("sg-created", Some(60), 1);
    let single = rule("sg-single", None, 1);
    let mut store = Store::open(&at.url).expect("open");
    // Two inputs, one dedup alert of three events, and one alert per event of another rule.
    let a = signals(&r, "a.json", &[("e1", 0, "111122223333"), ("e2", 5, "111122223333")]);
    let b = signals(&r, "b.json", &[("e3", 10, "111122223333")]);
    let s = signals(&single, "a.json", &[("e1", 0, "111122223333")]);
    let mut first = incoming(&r, &a);
    first.extend(incoming(&single, &s));
    store.ingest(Some(&key("a.json")), 2, &first).expect("ingest");
    store.ingest(Some(&key("b.json")), 1, &incoming(&r, &b)).expect("ingest");
    let dedup =
        store.alerts(&AlertFilter { rule: Some("sg-created".into()), ..Default::default() });
    let dedup = dedup.expect("list").remove(0).alert;
    assert_eq!(dedup.event_count, 3);
    // The rule, changed, evaluated again over a.json: it now matches e2 only.
    let out = again(&mut store, "a.json", &r, &a[1..]);
    assert_eq!((out.withdrawn, out.closed.len()), (1, 0), "b.json still holds one of its events");
    let now = store.alert(&dedup.alert_id).expect("read").expect("found");
    assert_eq!((now.status, now.alert.event_count), (Status::Open, 2));
    assert_eq!(now.alert.event_ids, vec!["e2".to_owned(), "e3".to_owned()]);
    // Evaluated again as it is: nothing is withdrawn twice, nothing changes.
    let out = again(&mut store, "a.json", &r, &a[1..]);
    assert_eq!((out.withdrawn, out.closed.len(), out.duplicates), (0, 0, 1));
    // Over both inputs it matches nothing: the alert is closed, saying why.
    again(&mut store, "a.json", &r, &[]);
    let out = again(&mut store, "b.json", &r, &[]);
    assert_eq!((out.withdrawn, out.closed.len()), (1, 1));
    assert_eq!(out.closed[0].alert_id, dedup.alert_id);
    let closed = store.alert(&dedup.alert_id).expect("read").expect("found");
    assert_eq!((closed.status, closed.alert.event_count), (Status::Closed, 0));
    let note = &closed.notes.last().expect("a note").text;
    assert!(note.contains("closed by a rule run") && note.contains("`sg-created`"), "{note}");
    // The other rule was not evaluated again: its alert stands.
    let other = store.alerts(&AlertFilter { rule: Some("sg-single".into()), ..Default::default() });
    assert_eq!(other.expect("list")[0].status, Status::Open);
    // Matching again later raises a new alert, not the closed one.
    let out = again(&mut store, "b.json", &r, &b);
    assert_eq!(out.raised.len(), 1);
    assert_ne!(out.raised[0].alert_id, dedup.alert_id);
});

/// Runs SQL on the store's database directly, as an older build or a damaged file would have
/// left it.
fn raw_sql(at: &Location, sql: &str) {
    if at.url.starts_with("postgres://") {
        postgres::Client::connect(&at.url, postgres::NoTls)
            .expect("connect")
            .batch_execute(sql)
            .expect("sql");
    } else {
        rusqlite::Connection::open(&at.url).expect("open").execute_batch(sql).expect("sql");
    }
}

both_stores!(signals_kept_before_they_were_packed_still_read, |at: Location| {
    let r = rule("sg-created", None, 1);
    let s = signals(&r, "a.json", &[("e1", 0, "111122223333")]);
    let mut store = Store::open(&at.url).expect("open");
    let alert = store.ingest(Some(&key("a.json")), 1, &incoming(&r, &s)).expect("ingest").raised;
    let json = serde_json::to_string(&s[0]).expect("json");
    // Schema 5 kept the JSON in `body` and had no request parameters.
    raw_sql(
        &at,
        &format!("UPDATE signals SET body = '{json}', event_id = signal_key, packed = NULL"),
    );
    let stored = store.signals_of(&alert[0]).expect("signals");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].body, json);
    assert_eq!(stored[0].request_parameters, None);
    // A packed value this build cannot read is an error, not a panic or an empty signal.
    let damaged = if at.url.starts_with("postgres://") {
        "UPDATE signals SET packed = '\\x0900'::bytea"
    } else {
        "UPDATE signals SET packed = x'0900'"
    };
    raw_sql(&at, damaged);
    let error = store.signals_of(&alert[0]).expect_err("refused");
    assert!(error.to_string().contains("dictionary 9 is unknown"), "{error}");
});

both_stores!(a_store_from_a_newer_tripline_is_refused, |at: Location| {
    drop(Store::open(&at.url).expect("open"));
    // A later version of Tripline migrated this store further than this build knows.
    let bump =
        "INSERT INTO schema_migrations (version, applied_at) VALUES (999, '2030-01-01T00:00:00Z')";
    raw_sql(&at, bump);
    let error = Store::open(&at.url).err().expect("refused");
    assert!(
        error.to_string().contains("schema is version 999, newer than this build of tripline"),
        "{error}"
    );
});

both_stores!(new_terms_history_is_kept_between_runs, |at: Location| {
    let mut r = rule("first-seen-caller", None, 1);
    r.alerting.new_terms = Some(tripline_rule::NewTerms {
        fields: vec![tripline_event::Field::resolve("userIdentity.arn")],
        history: std::time::Duration::from_secs(7 * 86_400),
    });
    let mut store = Store::open(&at.url).expect("open");
    let first = signals(&r, "a.json", &[("e1", 0, "111122223333")]);
    assert_eq!(
        store.ingest(Some(&key("a.json")), 1, &incoming(&r, &first)).expect("ingest").raised.len(),
        1
    );
    drop(store);
    let mut store = Store::open(&at.url).expect("reopen");
    // The same caller an hour later is not new; another account's caller is.
    let later = signals(&r, "b.json", &[("e2", 60, "111122223333"), ("e3", 61, "444455556666")]);
    let out = store.ingest(Some(&key("b.json")), 2, &incoming(&r, &later)).expect("ingest");
    assert_eq!((out.not_new, out.raised.len()), (1, 1));
    assert_eq!(out.raised[0].event_ids, vec!["e3".to_owned()]);
});

both_stores!(retention_forgets_the_windows_only_older_signals_decide, |at: Location| {
    // Three signals per account and half hour raise an alert; two wait at 10:00 and 10:05.
    let r = rule("three", Some(30), 3);
    let mut store = Store::open(&at.url).expect("open");
    let waiting = signals(&r, "a.json", &[("e1", 0, "111122223333"), ("e2", 5, "111122223333")]);
    assert!(store
        .ingest(Some(&key("a.json")), 2, &incoming(&r, &waiting))
        .expect("ingest")
        .raised
        .is_empty());
    // A purge before them keeps their window: a third signal read later raises the alert.
    assert_eq!(store.purge("2024-08-01T09:00:00Z").expect("purge").windows, 0);
    let third = signals(&r, "b.json", &[("e3", 10, "111122223333")]);
    assert_eq!(
        store.ingest(Some(&key("b.json")), 1, &incoming(&r, &third)).expect("ingest").raised.len(),
        1
    );
    // Two more wait in the next half hour; a purge after them forgets their window, so the
    // state does not grow with windows that never fill.
    let more = signals(&r, "c.json", &[("e4", 40, "111122223333"), ("e5", 45, "111122223333")]);
    assert!(store
        .ingest(Some(&key("c.json")), 2, &incoming(&r, &more))
        .expect("ingest")
        .raised
        .is_empty());
    assert_eq!(store.purge("2024-08-01T12:00:00Z").expect("purge").windows, 1);
    let last = signals(&r, "d.json", &[("e6", 50, "111122223333")]);
    let out = store.ingest(Some(&key("d.json")), 1, &incoming(&r, &last)).expect("ingest");
    assert!(out.raised.is_empty(), "the forgotten window starts again: {:?}", out.raised);
});
