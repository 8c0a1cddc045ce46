//! Helpers shared by the engine's integration tests: edited records, and a rule's verdict
//! from the compiled engine and from the naive interpreter side by side.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use tripline_engine::{naive, EngineBuilder};
use tripline_lang::Options;

/// A folder of the third-party corpus, read in place.
pub fn corpus(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus").join(dir)
}

/// `record` with dotted paths set (intermediate objects created) or, for `null`, removed.
pub fn edited(mut record: Value, changes: &[(&str, Value)]) -> Value {
    for (path, value) in changes {
        let parts: Vec<&str> = path.split('.').collect();
        let mut at = &mut record;
        for part in &parts[..parts.len() - 1] {
            if !at[*part].is_object() {
                at[*part] = Value::Object(serde_json::Map::new());
            }
            at = &mut at[*part];
        }
        let last = parts[parts.len() - 1];
        if value.is_null() {
            at.as_object_mut().expect("an object").remove(last);
        } else {
            at[last] = value.clone();
        }
    }
    record
}

/// Compiles the one rule in `text` (as the file `name`, whose extension and content choose
/// the front-end) and returns (engine verdict, naive verdict) on `record`.
pub fn verdicts(name: &str, text: &str, record: &Value) -> (bool, bool) {
    verdicts_on_text(name, text, &record.to_string())
}

/// As [`verdicts`], on a record as JSON text (which a `Value` could not hold: a key twice).
pub fn verdicts_on_text(name: &str, text: &str, record: &str) -> (bool, bool) {
    let loaded = tripline_lang::compile(Path::new(name), text, &Options::default());
    assert!(!loaded.has_errors(), "{text}\n{:?}", loaded.diagnostics);
    let rule = loaded.rules.into_iter().next().expect("one rule");
    let parsed = tripline_event::Record::parse(record).expect("an object");
    let naive = naive::evaluate(rule.condition(), &parsed);
    let mut builder = EngineBuilder::new();
    builder.add(Arc::new(rule));
    let mut matched = Vec::new();
    let engine = builder.build().expect("compiles");
    engine.evaluate(&tripline_event::Record::parse(record).expect("an object"), &mut matched);
    (!matched.is_empty(), naive)
}
