//! The compiled, indexed engine agrees with the naive interpreter on generated rules and
//! records (the index is a pre-filter and must never change a verdict).

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{json, Value};
use tripline_engine::{in_scope, naive, EngineBuilder};
use tripline_event::{Field, OwnedRecord};
use tripline_rule::{Case, CmpOp, Expr, Literal, RefOp, Rule, Scope, Test};

const NAMES: &[&str] = &[
    "AuthorizeSecurityGroupIngress",
    "authorizesecuritygroupingress",
    "CreateSecurityGroup",
    "DescribeInstances",
    "ModifySecurityGroupRules",
    "Ünïcode",
];
const SOURCES: &[&str] = &["ec2.amazonaws.com", "EC2.amazonaws.com", "rds.amazonaws.com"];
const FIELDS: &[&str] = &[
    "event.dataset",
    "requestParameters",
    "requestParameters.ipPermissions",
    "requestParameters.ipPermissions.items",
    "eventName",
    "eventSource",
    "errorCode",
    "requestParameters.ipPermissions.items.ipRanges.items.cidrIp",
    "requestParameters.fromPort",
    "event.action",
    "event.outcome",
    "sourceIPAddress",
    "tripline.sg.ingress_opened_to",
];
const WORDS: &[&str] = &[
    "AuthorizeSecurityGroupIngress",
    "authorize",
    "Security",
    "group",
    "ec2",
    "0.0.0.0/0",
    "10.0.0.0/8",
    "22",
    "success",
    "failure",
    "world",
    "AccessDenied",
    "ünï",
    "",
];

fn record() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(NAMES),
        prop::sample::select(SOURCES),
        prop::option::of(prop::sample::select(&["AccessDenied", "", "Client.UnauthorizedOperation"][..])),
        prop::collection::vec(prop::sample::select(&["0.0.0.0/0", "10.1.0.0/16", "203.0.113.9/32", "::/0"][..]), 0..3),
        prop::sample::select(vec![json!(22), json!(443), json!("22"), Value::Null]),
        prop::sample::select(&["AwsApiCall", "AwsCloudTrailInsight"][..]),
        prop::sample::select(&["198.51.100.7", "AWS Internal", "10.2.3.4"][..]),
    )
        .prop_map(|(name, source, error, cidrs, port, kind, ip)| {
            let mut r = json!({
                "eventVersion": "1.09", "eventName": name, "eventSource": source, "eventType": kind, "sourceIPAddress": ip,
                "eventTime": "2024-08-01T10:00:00Z", "recipientAccountId": "111122223333",
                "requestParameters": {"groupId": "sg-1", "fromPort": port, "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
                    "ipRanges": {"items": cidrs.iter().map(|c| json!({"cidrIp": c})).collect::<Vec<_>>()}}]}},
            });
            if let Some(e) = error {
                r["errorCode"] = json!(e);
            }
            r
        })
}

fn case() -> impl Strategy<Value = Case> {
    prop_oneof![Just(Case::Insensitive), Just(Case::Sensitive)]
}

fn words(max: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(prop::sample::select(WORDS).prop_map(str::to_owned), 1..max)
}

fn test() -> impl Strategy<Value = Test> {
    prop_oneof![
        Just(Test::Exists),
        (
            prop::collection::vec(
                prop_oneof![
                    prop::sample::select(NAMES).prop_map(|s| Literal::Str(s.to_owned())),
                    prop::sample::select(WORDS).prop_map(|s| Literal::Str(s.to_owned())),
                    prop::sample::select(&[22.0, 443.0][..]).prop_map(Literal::Num),
                    any::<bool>().prop_map(Literal::Bool),
                ],
                1..4
            ),
            case()
        )
            .prop_map(|(l, c)| Test::Equals(l, c)),
        (words(3), case()).prop_map(|(w, c)| Test::Contains(w, c)),
        (words(3), case()).prop_map(|(w, c)| Test::StartsWith(w, c)),
        (words(3), case()).prop_map(|(w, c)| Test::EndsWith(w, c)),
        prop::sample::select(
            &[
                "(?i)^authorize",
                "Group$",
                "^10\\.",
                "/0$",
                "Security.*Ingress",
                "(curity|thorize)Gr",
                ".+amazonaws.+"
            ][..]
        )
        .prop_map(|p| Test::Regex(vec![p.to_owned()])),
        (
            prop::collection::vec(
                prop::sample::select(
                    &["a", "Security", "group", "0", "/", "Ingress", "ec2", "."][..]
                )
                .prop_map(str::to_owned),
                1..4
            ),
            any::<bool>(),
            any::<bool>(),
            case()
        )
            .prop_map(|(parts, anchored_start, anchored_end, case)| Test::Wildcard {
                parts,
                anchored_start,
                anchored_end,
                case
            }),
        prop::sample::select(&["10.0.0.0/8", "198.51.100.0/24", "0.0.0.0/0"][..])
            .prop_map(|n| Test::Cidr(vec![n.parse().expect("valid network")])),
        (
            prop::sample::select(&[CmpOp::Lt, CmpOp::Lte, CmpOp::Gt, CmpOp::Gte][..]),
            prop::sample::select(&[22.0, 100.0][..])
        )
            .prop_map(|(o, b)| Test::Compare(o, b)),
        (
            prop::sample::select(FIELDS),
            prop::sample::select(vec![
                RefOp::Equals,
                RefOp::StartsWith,
                RefOp::Contains,
                RefOp::Compare(CmpOp::Gte)
            ]),
            case()
        )
            .prop_map(|(f, op, c)| Test::FieldRef(Field::resolve(f), op, c)),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        4 => (prop::sample::select(FIELDS), test()).prop_map(|(f, t)| Expr::pred(Field::resolve(f), t)),
        1 => any::<bool>().prop_map(Expr::Const),
    ];
    leaf.prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Expr::And),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Expr::Or),
            inner.prop_map(Expr::not),
        ]
    })
}

fn rule() -> impl Strategy<Value = Rule> {
    (expr(), any::<bool>()).prop_map(|(expr, insights)| {
        let mut rule = Rule::new("generated", expr);
        rule.scope = if insights { Scope::Insights } else { Scope::Events };
        rule
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn engine_agrees_with_naive_evaluation(rules in prop::collection::vec(rule(), 1..8), records in prop::collection::vec(record(), 1..8)) {
        let mut builder = EngineBuilder::new();
        for rule in &rules {
            builder.add(Arc::new(rule.clone()));
        }
        let engine = builder.build().expect("generated regexes are valid");
        for value in &records {
            let owned = OwnedRecord::from_value(value).expect("generated records are objects");
            let record = owned.record().expect("generated records are objects");
            let mut matched = Vec::new();
            engine.evaluate(&record, &mut matched);
            // A fresh record: the engine's one now reads nested fields selectively, and the
            // reference must not share that path.
            let fresh = owned.record().expect("generated records are objects");
            let expected: Vec<usize> = rules.iter().enumerate()
                .filter(|(_, r)| in_scope(r, &fresh) && naive::evaluate(r.condition(), &fresh))
                .map(|(i, _)| i)
                .collect();
            prop_assert_eq!(matched, expected, "record {}", value);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn simplify_keeps_meaning(expr in expr(), records in prop::collection::vec(record(), 1..6)) {
        let simplified = tripline_rule::passes::simplify(expr.clone());
        for value in &records {
            let owned = OwnedRecord::from_value(value).expect("generated records are objects");
            let record = owned.record().expect("generated records are objects");
            prop_assert_eq!(naive::evaluate(&simplified, &record), naive::evaluate(&expr, &record), "{} vs {}", expr, simplified);
        }
    }
}
