//! The shared store: PostgreSQL, for several processes (or machines) keeping one state.
//!
//! Every write transaction first takes one transaction-scoped advisory lock, so writers queue
//! instead of conflicting; readers never wait. Reads of the alert list run outside it.

use postgres::types::{ToSql, Type};
use std::collections::HashMap;

use postgres::{Client, NoTls, Statement};

use crate::backend::{Backend, Row, Value};
use crate::Result;

/// The advisory lock every writer takes ("TRIPLINE" in ASCII, as a number).
const WRITE_LOCK: i64 = 0x5452_4950_4c49_4e45;

pub struct Postgres {
    client: Client,
    /// Statements prepared once per connection: each statement text is one round trip less.
    prepared: HashMap<String, Statement>,
}

impl Postgres {
    pub fn connect(url: &str) -> Result<Self> {
        let client = Client::connect(url, NoTls)?;
        Ok(Self { client, prepared: HashMap::new() })
    }

    fn statement(&mut self, sql: &str) -> Result<Statement> {
        if let Some(statement) = self.prepared.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.prepared.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

/// The parameters as the statement's types take them: a NULL is typed after its column's
/// (PostgreSQL refuses a text NULL for a `BYTEA` or a `BIGINT`).
fn bind(statement: &Statement, params: &[Value]) -> Vec<Box<dyn ToSql + Sync>> {
    params
        .iter()
        .zip(statement.params())
        .map(|(v, ty)| -> Box<dyn ToSql + Sync> {
            match v {
                Value::Null if *ty == Type::BYTEA => Box::new(Option::<Vec<u8>>::None),
                Value::Null if *ty == Type::INT8 => Box::new(Option::<i64>::None),
                Value::Null => Box::new(Option::<String>::None),
                Value::Int(i) => Box::new(*i),
                Value::Text(s) => Box::new(s.clone()),
                Value::Bytes(b) => Box::new(b.clone()),
            }
        })
        .collect()
}

fn read(row: &postgres::Row) -> Result<Row> {
    let mut out = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let value = match *column.type_() {
            Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map_or(Value::Null, Value::Int),
            Type::INT4 => {
                row.try_get::<_, Option<i32>>(i)?.map_or(Value::Null, |n| Value::Int(i64::from(n)))
            }
            Type::BOOL => {
                row.try_get::<_, Option<bool>>(i)?.map_or(Value::Null, |b| Value::Int(i64::from(b)))
            }
            Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map_or(Value::Null, Value::Bytes),
            _ => row.try_get::<_, Option<String>>(i)?.map_or(Value::Null, Value::Text),
        };
        out.push(value);
    }
    Ok(out)
}

impl Backend for Postgres {
    /// The server checks its own pages (`data_checksums`); what Tripline can check is that the
    /// store answers.
    fn integrity(&mut self, _full: bool) -> Result<Vec<String>> {
        self.client.simple_query("SELECT 1")?;
        Ok(Vec::new())
    }
    fn begin_write(&mut self) -> Result<()> {
        self.client.batch_execute("BEGIN")?;
        self.client.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        Ok(self.client.batch_execute("COMMIT")?)
    }

    fn rollback(&mut self) -> Result<()> {
        Ok(self.client.batch_execute("ROLLBACK")?)
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let statement = self.statement(sql)?;
        let bound = bind(&statement, params);
        let refs: Vec<&(dyn ToSql + Sync)> = bound.iter().map(AsRef::as_ref).collect();
        Ok(self.client.execute(&statement, &refs)?)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let statement = self.statement(sql)?;
        let bound = bind(&statement, params);
        let refs: Vec<&(dyn ToSql + Sync)> = bound.iter().map(AsRef::as_ref).collect();
        self.client.query(&statement, &refs)?.iter().map(read).collect()
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.client.batch_execute(sql)?)
    }
}
