//! `Record` is one CloudTrail record, held as its top-level fields' raw JSON text and parsed
//! field by field only when a rule asks for more than `eventSource`/`eventName`.
//!
//! The design decision: reading a record costs one validating pass over its bytes (no DOM);
//! a nested field such as `requestParameters` becomes a `serde_json::Value` the first time a
//! candidate rule needs it. Field names are CloudTrail's own paths ([`FieldPath`]) or Elastic's
//! ECS names ([`ecs::EcsField`]), both resolved once, when a rule is compiled.
#![deny(missing_docs)]

#[cfg(test)]
mod arbitrary;
pub mod context;
pub mod ecs;
pub mod fields;
pub mod indicators;
pub mod interest;
mod maptext;
pub mod path;
pub mod record;
pub mod time;

pub use path::{Field, FieldKind, FieldPath};
pub use record::{Element, OwnedRecord, Record, RecordError, Selection};
