//! Selective reads of nested fields (the hand-written scanner) agree with reading the DOM, on
//! generated JSON: nested objects and arrays, escaped keys and strings, scalars of every kind.

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use tripline_event::interest::Interest;
use tripline_event::{Field, OwnedRecord};

const KEYS: &[&str] = &["a", "b", "items", "k\"q", "x\\y", "type"];

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        prop::sample::select(vec!["", "x", "a \"quoted\" b", "back\\slash", "ünï", "0.0.0.0/0"])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..5).prop_map(|members| {
                Value::Object(
                    members.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

fn path() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(prop::sample::select(KEYS).prop_map(str::to_owned), 1..4)
}

fn values(field: &Field, record: &tripline_event::Record<'_>) -> Vec<Value> {
    let mut out = Vec::new();
    field.any_value(record, &mut |v| {
        out.push(v.clone());
        false
    });
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn selective_reads_agree_with_the_dom(params in value(), paths in prop::collection::vec(path(), 1..5)) {
        let record = json!({"eventName": "X", "requestParameters": params});
        let full: Vec<Vec<String>> = paths.iter().map(|p| std::iter::once("requestParameters".to_owned()).chain(p.iter().cloned()).collect()).collect();
        let interest = Arc::new(Interest::new(full.iter().map(Vec::as_slice)));
        let owned = OwnedRecord::from_value(&record).expect("an object");
        let (dom, selective) = (owned.record().expect("an object"), owned.record().expect("an object"));
        selective.set_interest(&interest);
        for segments in &full {
            let field = Field::path(&segments.join("."));
            prop_assert_eq!(values(&field, &selective), values(&field, &dom), "{}", segments.join("."));
        }
    }
}
