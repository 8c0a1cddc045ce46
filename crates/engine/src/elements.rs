//! List comprehension: a condition evaluated with each element of a list as the record.

use serde_json::Value;
use tripline_event::{Field, OwnedRecord, Record};
use tripline_rule::Quantifier;

/// Applies `quantifier` to `test` over the elements of `field`'s list. An element that is not
/// an object is seen as an empty record. A missing or empty list has no elements: `Any` and
/// `All` are false, `None` is true.
pub(crate) fn quantify(
    field: &Field,
    quantifier: Quantifier,
    record: &Record<'_>,
    test: &mut dyn FnMut(&Record<'_>) -> bool,
) -> bool {
    let mut elements: Vec<Value> = Vec::new();
    field.any_value(record, &mut |v| {
        elements.push(v.clone());
        false
    });
    let mut verdicts = elements.iter().map(|element| {
        let object = if element.is_object() {
            element.clone()
        } else {
            Value::Object(serde_json::Map::new())
        };
        OwnedRecord::from_value(&object)
            .ok()
            .is_some_and(|owned| owned.record().is_ok_and(|r| test(&r)))
    });
    match quantifier {
        Quantifier::Any => verdicts.any(|v| v),
        Quantifier::All => !elements.is_empty() && verdicts.all(|v| v),
        Quantifier::None => !verdicts.any(|v| v),
    }
}
