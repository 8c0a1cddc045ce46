//! The embedded store: one SQLite file.
//!
//! 16 KiB pages (set when the file is created): signals are stored with their JSON, about
//! 1.9 kB each, and bigger pages mean fewer b-tree pages to split and write per commit.
//! A rollback journal (`TRUNCATE`) with `synchronous = FULL`: every commit is durable, against
//! a killed process and a power loss alike, and each page is written once — a scan commits a
//! few large batches, where WAL mode wrote every page twice (log, then checkpoint) and measured
//! slower. Readers (`alerts list`) wait only for the moment of a commit (busy timeout).

use std::path::Path;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params_from_iter, Connection};

use crate::backend::{Backend, Row, Value};
use crate::{Result, StoreError};

pub struct Sqlite {
    connection: Connection,
    path: String,
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

impl Sqlite {
    pub fn open(path: &Path) -> Result<Self> {
        let label = path.display().to_string();
        let fail = |source| StoreError::Sqlite { path: label.clone(), source };
        // A folder that does not exist is most likely a typo: creating it would start an empty
        // store and raise every alert again.
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty() && !p.is_dir()) {
            return Err(StoreError::NoFolder {
                path: label.clone(),
                folder: parent.display().to_string(),
            });
        }
        let connection = Connection::open(path).map_err(fail)?;
        // Other processes may hold the write lock for one input's commit; wait for them.
        connection.busy_timeout(Duration::from_secs(60)).map_err(fail)?;
        connection.execute_batch("PRAGMA page_size = 16384; PRAGMA journal_mode = TRUNCATE; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;").map_err(fail)?;
        Ok(Self { connection, path: label })
    }

    fn fail(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite { path: self.path.clone(), source }
    }
}

impl Backend for Sqlite {
    fn begin_write(&mut self) -> Result<()> {
        // IMMEDIATE takes the write lock now, so two processes never both read then write.
        self.connection.execute_batch("BEGIN IMMEDIATE").map_err(|e| self.fail(e))
    }

    fn commit(&mut self) -> Result<()> {
        self.connection.execute_batch("COMMIT").map_err(|e| self.fail(e))
    }

    fn rollback(&mut self) -> Result<()> {
        self.connection.execute_batch("ROLLBACK").map_err(|e| self.fail(e))
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let mut statement = self.connection.prepare_cached(sql).map_err(|e| self.fail(e))?;
        let changed = statement.execute(params_from_iter(params)).map_err(|e| self.fail(e))?;
        Ok(changed as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let mut statement = self.connection.prepare_cached(sql).map_err(|e| self.fail(e))?;
        let columns = statement.column_count();
        let rows = statement
            .query_map(params_from_iter(params), |row| {
                (0..columns)
                    .map(|i| {
                        Ok(match row.get_ref(i)? {
                            ValueRef::Null => Value::Null,
                            ValueRef::Integer(n) => Value::Int(n),
                            ValueRef::Real(f) => Value::Text(f.to_string()),
                            ValueRef::Text(t) => {
                                Value::Text(String::from_utf8_lossy(t).into_owned())
                            }
                            ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
                        })
                    })
                    .collect::<rusqlite::Result<Row>>()
            })
            .map_err(|e| self.fail(e))?;
        rows.collect::<rusqlite::Result<Vec<Row>>>().map_err(|e| self.fail(e))
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        self.connection.execute_batch(sql).map_err(|e| self.fail(e))
    }
}
