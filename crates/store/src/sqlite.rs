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
        let fail = |cause| StoreError::Sqlite { path: label.clone(), cause };
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
        // Before anything is written: a damaged store is said as such, and left as it is.
        let findings = match check(&connection, false) {
            Ok(findings) => findings,
            Err(e) if is_damage(&e) => vec![e.to_string()],
            Err(e) => return Err(fail(e)),
        };
        if !findings.is_empty() {
            let findings: Vec<String> = findings.iter().map(|f| f.replace('\n', " ")).collect();
            return Err(StoreError::Damaged { path: label, findings: findings.join("; ") });
        }
        connection.execute_batch("PRAGMA page_size = 16384; PRAGMA journal_mode = TRUNCATE; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;").map_err(fail)?;
        Ok(Self { connection, path: label })
    }

    fn fail(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite { path: self.path.clone(), cause: source }
    }
}

/// Whether SQLite says the file is damaged or not a database at all.
fn is_damage(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

/// The full check of the SQLite file at `path`, opened read-only.
pub fn check_file(path: &Path) -> Result<Vec<String>> {
    let label = path.display().to_string();
    let fail = |cause| StoreError::Sqlite { path: label.clone(), cause };
    let connection = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(fail)?;
    Ok(check(&connection, true).unwrap_or_else(|e| vec![e.to_string()]))
}

/// SQLite's own check of the file: `quick_check` (the b-trees, in one pass) or, `full`,
/// `integrity_check` (indexes against their tables too); at most ten findings.
fn check(connection: &Connection, full: bool) -> rusqlite::Result<Vec<String>> {
    let pragma = if full { "PRAGMA integrity_check(10)" } else { "PRAGMA quick_check(10)" };
    let mut statement = connection.prepare(pragma)?;
    let rows: Vec<String> =
        statement.query_map([], |row| row.get::<_, String>(0))?.collect::<rusqlite::Result<_>>()?;
    Ok(if rows == ["ok"] { Vec::new() } else { rows })
}

impl Backend for Sqlite {
    fn integrity(&mut self, full: bool) -> Result<Vec<String>> {
        check(&self.connection, full).map_err(|e| self.fail(e))
    }

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
