//! Kibana Query Language, as Elastic's detection rules write it: parsed to a tree that keeps
//! offsets, then lowered over the ECS view with Elasticsearch's keyword semantics (exact,
//! case-sensitive; `*` wildcards in unquoted values; `field:*` means the field exists).

mod lower;
mod parse;

pub use lower::lower;
pub use parse::{parse, Kql, KqlError, Value, ValueExpr};
