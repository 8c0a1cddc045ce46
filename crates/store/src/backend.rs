//! The little both databases must do: statements with positional parameters (`$1`, `$2`, … in
//! order of appearance) over four value kinds, and a write transaction under a store-wide lock.
//! Everything else (schema, ingest, queries) is written once over this.

use crate::Result;

/// A parameter or column value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL NULL (only for text columns).
    Null,
    /// A 64-bit integer (`BIGINT`).
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes (`BYTEA`; SQLite keeps them as a blob).
    Bytes(Vec<u8>),
}

impl Value {
    /// The text, if any.
    #[must_use]
    pub fn into_text(self) -> Option<String> {
        match self {
            Self::Text(s) => Some(s),
            Self::Int(i) => Some(i.to_string()),
            Self::Bytes(b) => String::from_utf8(b).ok(),
            Self::Null => None,
        }
    }

    /// The bytes, if any (text as its UTF-8).
    #[must_use]
    pub fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            Self::Bytes(b) => Some(b),
            Self::Text(s) => Some(s.into_bytes()),
            Self::Int(_) | Self::Null => None,
        }
    }

    /// The integer, if any.
    #[must_use]
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(*i),
            Self::Text(s) => s.parse().ok(),
            Self::Bytes(_) | Self::Null => None,
        }
    }
}

/// The JSON in the first column of the first row `sql` (with `key` as `$1`) gives, read as a
/// `T`; `what` names it in the error when it does not read.
pub(crate) fn query_json<T: serde::de::DeserializeOwned>(
    backend: &mut dyn Backend,
    sql: &str,
    key: &str,
    what: &str,
) -> Result<Option<T>> {
    let rows = backend.query(sql, &[key.into()])?;
    rows.into_iter()
        .next()
        .and_then(|r| r.into_iter().next())
        .and_then(Value::into_text)
        .map(|json| {
            serde_json::from_str(&json)
                .map_err(|e| crate::StoreError::Corrupt(format!("{what} `{key}`: {e}")))
        })
        .transpose()
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl From<Option<&str>> for Value {
    fn from(s: Option<&str>) -> Self {
        s.map_or(Self::Null, Self::from)
    }
}

impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Self::Bytes(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Self::Int(i)
    }
}

/// One result row.
pub type Row = Vec<Value>;

/// A database connection.
pub trait Backend: Send {
    /// What an integrity check of the store finds wrong (nothing when sound; `full` for the
    /// slower, complete check).
    ///
    /// # Errors
    /// When the check cannot run.
    fn integrity(&mut self, full: bool) -> Result<Vec<String>>;
    /// Starts a transaction holding the store-wide write lock (waits for other writers).
    fn begin_write(&mut self) -> Result<()>;
    /// Commits the open transaction.
    fn commit(&mut self) -> Result<()>;
    /// Rolls the open transaction back.
    fn rollback(&mut self) -> Result<()>;
    /// Runs a statement; returns the rows changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64>;
    /// Runs a query.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>>;
    /// Runs several statements without parameters (schema changes).
    fn batch(&mut self, sql: &str) -> Result<()>;
}
