//! `tripline alerts outbox`: what the notifying outputs have been told, are waiting to be told,
//! or gave up on; `--retry-dead` puts dead-lettered notifications back in line for the next run.

use std::io::Write;

use tripline_pipeline::sink::text::table;
use tripline_store::OutboxStatus;

use super::alerts::StoreArg;
use crate::options::Format;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    store: StoreArg,
    /// Only notifications with this status: pending, delivered or dead.
    #[arg(long, value_parser = parse_status)]
    status: Option<OutboxStatus>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Put dead-lettered notifications back in line (their attempts reset); the next `scan` or
    /// `watch` poll with the output delivers them.
    #[arg(long)]
    retry_dead: bool,
    /// With `--retry-dead`: only outputs whose name contains this.
    #[arg(long, requires = "retry_dead")]
    output: Option<String>,
}

fn parse_status(text: &str) -> Result<OutboxStatus, String> {
    OutboxStatus::parse(&text.to_ascii_lowercase())
        .ok_or_else(|| format!("`{text}` is not an outbox status: pending, delivered or dead"))
}

pub fn run(
    args: &Args,
    out: &mut dyn Write,
    config: &tripline_pipeline::Config,
) -> anyhow::Result<()> {
    let mut store = args.store.open(config)?;
    if args.retry_dead {
        let n = store.retry_dead(args.output.as_deref())?;
        writeln!(out, "{n} dead-lettered notification(s) put back in line")?;
        return Ok(());
    }
    let rows = store.outbox(args.status)?;
    match args.format {
        Format::Jsonl => {
            for row in &rows {
                let body: serde_json::Value =
                    serde_json::from_str(&row.body).unwrap_or(serde_json::Value::Null);
                let line = serde_json::json!({
                    "output": row.label, "key": row.key, "status": row.status.as_str(), "attempts": row.attempts,
                    "last_error": row.last_error, "created_at": row.created_at, "updated_at": row.updated_at,
                    "alert_id": body["alert"]["alert_id"], "rule_id": body["alert"]["rule_id"], "change": body["change"],
                });
                writeln!(out, "{line}")?;
            }
        }
        Format::Text if rows.is_empty() => writeln!(out, "no notifications")?,
        Format::Text => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.status.as_str().to_owned(),
                        r.attempts.to_string(),
                        r.label.clone(),
                        r.key.clone(),
                        r.updated_at.clone(),
                        r.last_error.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            out.write_all(
                table(&["STATUS", "ATTEMPTS", "OUTPUT", "KEY", "UPDATED", "LAST ERROR"], &cells)
                    .as_bytes(),
            )?;
        }
    }
    Ok(())
}
