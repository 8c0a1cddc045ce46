//! Versioned schema migrations, applied in order on open, inside the write lock so that two
//! processes opening a new store at once do not both migrate it. The SQL is the common subset
//! of SQLite and PostgreSQL (text, `BIGINT`, `ON CONFLICT`).

use crate::backend::Backend;
use crate::{Result, StoreError};

/// Each migration, by version. Append only: a released migration never changes.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE alerts (
        alert_id TEXT PRIMARY KEY,
        rule_id TEXT NOT NULL,
        title TEXT NOT NULL,
        severity TEXT NOT NULL,
        risk_score BIGINT NOT NULL,
        dedup_key TEXT NOT NULL,
        first_seen TEXT,
        last_seen TEXT,
        event_count BIGINT NOT NULL,
        event_ids TEXT NOT NULL,
        status TEXT NOT NULL,
        assignee TEXT,
        notes TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX alerts_by_rule ON alerts (rule_id);
    CREATE INDEX alerts_by_first_seen ON alerts (first_seen);
    CREATE TABLE signals (
        rule_id TEXT NOT NULL,
        signal_key TEXT NOT NULL,
        event_id TEXT,
        event_time TEXT,
        body TEXT NOT NULL,
        PRIMARY KEY (rule_id, signal_key)
    );
    CREATE TABLE rule_state (
        rule_id TEXT PRIMARY KEY,
        state TEXT NOT NULL
    );
    CREATE TABLE checkpoints (
        input TEXT PRIMARY KEY,
        size BIGINT NOT NULL,
        version TEXT NOT NULL,
        records BIGINT NOT NULL,
        signals BIGINT NOT NULL,
        completed_at TEXT NOT NULL
    );",
    ),
    (
        2,
        "CREATE TABLE outbox (
        output TEXT NOT NULL,
        notification_key TEXT NOT NULL,
        seq BIGINT NOT NULL,
        label TEXT NOT NULL,
        body TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts BIGINT NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (output, notification_key)
    );
    CREATE INDEX outbox_by_status ON outbox (status, seq);",
    ),
    (
        3,
        // Which rules evaluated each input: a checkpoint names the rule set (a digest of its
        // rules' ids and fingerprints), kept once per set. NULL: before this was recorded.
        "ALTER TABLE checkpoints ADD COLUMN rule_set TEXT;
    CREATE TABLE rule_sets (
        digest TEXT PRIMARY KEY,
        rules TEXT NOT NULL,
        created_at TEXT NOT NULL
    );",
    ),
    (
        4,
        // Who did it and where, from an alert's first event (JSON; NULL before it was kept).
        "ALTER TABLE alerts ADD COLUMN representative TEXT;",
    ),
    (
        5,
        "CREATE TABLE rule_guides (
        rule_id TEXT PRIMARY KEY,
        guide TEXT NOT NULL
    );",
    ),
    (
        6,
        // Signals packed with their record's request parameters (see `packed`): `body` is
        // then empty, and `event_id` NULL, the `signal_key` holding it. An alert's
        // representative packed as well.
        "ALTER TABLE signals ADD COLUMN packed BYTEA;
    ALTER TABLE alerts ADD COLUMN packed_representative BYTEA;",
    ),
    (
        7,
        // An alert's id follows its earliest event: the event it is made from, and the ids it
        // had before an earlier event joined it (JSON list; NULL when none).
        "ALTER TABLE alerts ADD COLUMN first_event TEXT;
    ALTER TABLE alerts ADD COLUMN previous_ids TEXT;",
    ),
    (
        8,
        // The input a signal was read from, as a 64-bit digest of its name (NULL for stdin and
        // correlations, and before), so that evaluating the input again can tell which of
        // its signals a rule withdrew. No index: that is read by rule, once per transaction.
        "ALTER TABLE signals ADD COLUMN input_digest BIGINT;",
    ),
];

/// The newest schema this build knows.
pub fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// The schema version of the store (0 for a new one).
pub fn version(backend: &mut dyn Backend) -> Result<i64> {
    let rows = backend.query("SELECT MAX(version) FROM schema_migrations", &[])?;
    Ok(rows.first().and_then(|r| r.first()).and_then(crate::Value::as_int).unwrap_or(0))
}

/// Applies every migration the store lacks. Runs inside a write transaction.
pub fn migrate(backend: &mut dyn Backend) -> Result<()> {
    backend.batch("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)")?;
    let current = version(backend)?;
    if current > latest() {
        return Err(StoreError::SchemaTooNew { found: current, known: latest() });
    }
    for (number, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        backend.batch(sql)?;
        backend.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
            &[(*number).into(), crate::queries::now().into()],
        )?;
    }
    Ok(())
}
