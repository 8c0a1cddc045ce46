//! JSON trees for property tests: keys and strings drawn from the pools a test cares about
//! (indicator-like text, CloudTrail keys in several cases), values of every JSON kind, arrays
//! and objects nested a few levels.

use proptest::prelude::*;
use serde_json::{json, Value};

/// Trees whose object keys come from `keys` and whose strings come from `texts`.
pub fn json_tree(
    keys: Vec<&'static str>,
    texts: Vec<&'static str>,
) -> impl Strategy<Value = Value> {
    let key = prop::sample::select(keys);
    let leaf = prop_oneof![
        prop::sample::select(texts).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
        Just(json!(1.5)),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..7).prop_map(|m| Value::Object(
                m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}
