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

/// The most rows one multi-row statement takes; fewer go in statements of power-of-two sizes,
/// so that each kind of statement is prepared in a handful of shapes only.
const ROWS_PER_STATEMENT: usize = 128;

/// Runs `head VALUES row, row, … tail` for `rows`, each written as `template` with every `$` in
/// it standing for the row's next parameter: one round trip per up to 128 rows instead of one
/// per row, which is most of the time a commit holds the store's lock. With `returning`, the
/// rows the statements return.
pub(crate) fn insert_rows(
    backend: &mut dyn Backend,
    head: &str,
    template: &str,
    mut rows: Vec<Vec<Value>>,
    tail: &str,
    returning: bool,
) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    while !rows.is_empty() {
        let size = if rows.len() >= ROWS_PER_STATEMENT {
            ROWS_PER_STATEMENT
        } else {
            1 << rows.len().ilog2() // the largest power of two that fits
        };
        let mut sql = format!("{head} VALUES ");
        let mut n = 0;
        for i in 0..size {
            if i > 0 {
                sql.push_str(", ");
            }
            for piece in template.split_inclusive('$') {
                sql.push_str(piece);
                if piece.ends_with('$') {
                    n += 1;
                    sql.push_str(&n.to_string());
                }
            }
        }
        sql.push(' ');
        sql.push_str(tail);
        let params: Vec<Value> = rows.drain(..size).flatten().collect();
        if returning {
            out.extend(backend.query(&sql, &params)?);
        } else {
            backend.execute(&sql, &params)?;
        }
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// 300 rows go in statements of 128, 128, 32, 8 and 4; the ones already there are not
    /// returned, the others are, each once.
    #[test]
    fn rows_go_in_few_statements_and_only_new_ones_come_back() {
        let dir = tempfile::tempdir().expect("temp");
        let mut db = crate::sqlite::Sqlite::open(&dir.path().join("t.db")).expect("opens");
        db.batch("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT, b BLOB)").expect("table");
        db.execute("INSERT INTO t (k, n, b) VALUES ($1, 0, NULL)", &["k7".into()]).expect("one");
        let rows: Vec<Vec<Value>> = (0..300)
            .map(|i| vec![format!("k{i}").into(), Value::Int(i), Value::Bytes(vec![1, 2])])
            .collect();
        let head = "INSERT INTO t (k, n, b)";
        let tail = "ON CONFLICT (k) DO NOTHING RETURNING k";
        let back = insert_rows(&mut db, head, "($, $, $)", rows, tail, true).expect("inserted");
        let mut keys: Vec<String> =
            back.into_iter().filter_map(|r| r[0].clone().into_text()).collect();
        keys.sort_by_key(|k| k[1..].parse::<i64>().unwrap_or(-1));
        let expected: Vec<String> = (0..300).filter(|i| *i != 7).map(|i| format!("k{i}")).collect();
        assert_eq!(keys, expected);
        let stored = db.query("SELECT SUM(n), COUNT(*) FROM t", &[]).expect("read");
        assert_eq!(stored[0], vec![Value::Int((0..300).sum::<i64>() - 7), Value::Int(300)]);
        // Nothing to write is no statement at all.
        assert!(insert_rows(&mut db, head, "($, $, $)", Vec::new(), tail, true)
            .expect("ok")
            .is_empty());
    }
}
