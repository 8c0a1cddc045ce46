//! `tripline alerts list|show|ack|close|reopen`: working with the alerts a store keeps.

use std::io::Write;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use tripline_pipeline::sink::text::{describe_change, table};
use tripline_rule::Severity;
use tripline_store::{AlertFilter, Status, Store, StoredAlert};

use super::ExitStatus;
use crate::options::{Format, RuleArgs};

/// Where the alerts are.
#[derive(clap::Args)]
pub struct StoreArg {
    /// The store: a SQLite file path or a `postgres://` URL.
    #[arg(long, env = "TRIPLINE_STORE", value_name = "PATH|URL")]
    store: Option<String>,
}

impl StoreArg {
    pub(super) fn open(&self, config: &tripline_pipeline::Config) -> anyhow::Result<Store> {
        let location = crate::options::store(self.store.as_ref(), config)?;
        let label = tripline_store::redact(&location);
        if !location.contains("://") && !std::path::Path::new(&location).exists() {
            bail!("no store at {label}: `tripline scan --store {label} …` creates it");
        }
        Store::open(&location).with_context(|| format!("failed to open the store {label}"))
    }
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// List alerts, oldest first.
    List {
        #[command(flatten)]
        store: StoreArg,
        /// Only this rule's alerts.
        #[arg(long)]
        rule: Option<String>,
        /// Only alerts at or above this severity (the name every command gives this filter;
        /// `--severity` is kept as an alias).
        #[arg(long, alias = "severity", value_name = "LEVEL", value_parser = |text: &str| text.parse::<Severity>())]
        min_severity: Option<Severity>,
        /// Only alerts assigned to this person.
        #[arg(long)]
        assignee: Option<String>,
        /// At most this many alerts: the most recent (still listed oldest first).
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// Only alerts with this status (open, acknowledged, closed).
        #[arg(long, value_parser = parse_status)]
        status: Option<Status>,
        /// Only alerts with events at or after this time (RFC 3339, a date, or a span back
        /// from now such as 24h).
        #[arg(long, value_parser = super::scan::parse_time)]
        since: Option<DateTime<Utc>>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Show one alert (by id or a unique prefix): its events' context and the rule's triage guide.
    Show {
        id: String,
        #[command(flatten)]
        store: StoreArg,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        #[command(flatten)]
        rules: RuleArgs,
    },
    /// Acknowledge alerts (by id or a unique prefix): someone is on them.
    Ack {
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
        #[command(flatten)]
        store: StoreArg,
        /// Why, or what is being done.
        #[arg(long, default_value = "")]
        note: String,
        /// Who is on it.
        #[arg(long)]
        assignee: Option<String>,
    },
    /// Close alerts: dealt with. New activity for a rule and key raises a new alert.
    Close {
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
        #[command(flatten)]
        store: StoreArg,
        /// The outcome.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Forget what is older than a date: closed alerts whose last event is older, signals of
    /// that age and delivered notifications. An open or acknowledged alert keeps its events.
    Purge {
        /// The date (RFC 3339, a date, or a span back from now such as 90d).
        #[arg(long, value_parser = super::scan::parse_time)]
        before: DateTime<Utc>,
        #[command(flatten)]
        store: StoreArg,
    },
    /// The notifications waiting for, delivered to, or given up on by the notifying outputs
    /// (webhook, Slack, OCSF); `--retry-dead` puts dead-lettered ones back in line.
    Outbox(super::outbox::Args),
    /// Open acknowledged or closed alerts again (closed too early, say).
    Reopen {
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
        #[command(flatten)]
        store: StoreArg,
        /// Why.
        #[arg(long, default_value = "")]
        note: String,
    },
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn parse_status(text: &str) -> Result<Status, String> {
    Status::parse(&text.to_ascii_lowercase())
        .ok_or_else(|| format!("`{text}` is not a status: open, acknowledged or closed"))
}

pub fn run(command: &Command, config: &tripline_pipeline::Config) -> anyhow::Result<ExitStatus> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match command {
        Command::List { store, rule, min_severity, assignee, limit, status, since, format } => {
            let filter = AlertFilter {
                rule: rule.clone(),
                min_severity: *min_severity,
                status: *status,
                since: since.map(rfc3339),
                assignee: assignee.clone(),
            };
            let mut alerts = store.open(config)?.alerts(&filter)?;
            if let Some(limit) = limit {
                alerts.drain(..alerts.len().saturating_sub(*limit));
            }
            match format {
                Format::Jsonl => {
                    for alert in &alerts {
                        serde_json::to_writer(&mut out, alert)?;
                        out.write_all(b"\n")?;
                    }
                }
                Format::Text if alerts.is_empty() => writeln!(out, "no alerts")?,
                Format::Text => out.write_all(list_table(&alerts).as_bytes())?,
            }
        }
        Command::Show { id, store, format, rules } => {
            let mut store = store.open(config)?;
            let Some(alert) = store.alert(id)? else {
                bail!("no alert `{id}` in {} (or the prefix is not unique)", store.label())
            };
            let mut signals: Vec<serde_json::Value> = store
                .signals_of(&alert.alert)?
                .into_iter()
                .filter_map(|stored| {
                    let mut signal: serde_json::Value = serde_json::from_str(&stored.body).ok()?;
                    let request = stored.request_parameters.as_deref().map(serde_json::from_str);
                    if let Some(Ok(request)) = request {
                        signal["request_parameters"] = request;
                    }
                    Some(signal)
                })
                .collect();
            // In event time, whatever order they were read in.
            signals.sort_by(|a, b| a["event_time"].as_str().cmp(&b["event_time"].as_str()));
            // The rule as loaded now, else the guide the store kept when it raised the alert.
            let loaded = tripline_pipeline::ruleset::load(&rules.sources(config));
            let guide = match loaded.rules.iter().find(|r| r.meta.id == alert.alert.rule_id) {
                Some(rule) => Some(tripline_store::RuleGuide::of(rule)),
                None => store.rule_guide(&alert.alert.rule_id)?,
            }
            .unwrap_or_default();
            let triage = guide.triage.clone();
            match format {
                Format::Jsonl => {
                    let mut value = serde_json::to_value(&alert)?;
                    value["signals"] = serde_json::Value::Array(signals);
                    value["triage"] = serde_json::Value::String(triage);
                    value["rule"] = serde_json::to_value(&guide)?;
                    serde_json::to_writer(&mut out, &value)?;
                    out.write_all(b"\n")?;
                }
                Format::Text => out.write_all(show_page(&alert, &signals, &guide).as_bytes())?,
            }
        }
        Command::Ack { ids, store, note, assignee } => {
            let to = Status::Acknowledged;
            return change(&mut out, store, config, ids, to, assignee.as_deref(), note);
        }
        Command::Close { ids, store, note } => {
            return change(&mut out, store, config, ids, Status::Closed, None, note)
        }
        Command::Reopen { ids, store, note } => {
            return change(&mut out, store, config, ids, Status::Open, None, note)
        }
        Command::Outbox(args) => super::outbox::run(args, &mut out, config)?,
        Command::Purge { before, store } => {
            let mut store = store.open(config)?;
            let purged = store.purge(&rfc3339(*before))?;
            writeln!(
                out,
                "purged {} closed alert(s), {} signal(s), {} delivered notification(s) and {} window(s) of alerting state from before {}",
                purged.alerts,
                purged.signals,
                purged.notifications,
                purged.windows,
                rfc3339(*before)
            )?;
        }
    }
    out.flush()?;
    Ok(ExitStatus::Success)
}

fn change(
    out: &mut dyn Write,
    store: &StoreArg,
    config: &tripline_pipeline::Config,
    ids: &[String],
    status: Status,
    assignee: Option<&str>,
    note: &str,
) -> anyhow::Result<ExitStatus> {
    let mut store = store.open(config)?;
    // Every id is tried: one typo among ten must not leave the other nine unchanged.
    let mut missing = 0;
    for id in ids {
        match store.set_status(id, status, assignee, note)? {
            Some(alert) => writeln!(out, "{} {}", alert.alert.alert_id, alert.status.as_str())?,
            None => {
                missing += 1;
                note!("error: no alert `{id}` in {} (or the prefix is not unique)", store.label());
            }
        }
    }
    out.flush()?;
    Ok(if missing > 0 { ExitStatus::Error } else { ExitStatus::Success })
}

fn list_table(alerts: &[StoredAlert]) -> String {
    let rows: Vec<Vec<String>> = alerts
        .iter()
        .map(|a| {
            vec![
                a.alert.alert_id.clone(),
                a.status.as_str().to_owned(),
                a.alert.severity.to_string(),
                a.alert.first_seen.clone().unwrap_or_default(),
                a.alert.event_count.to_string(),
                a.assignee.clone().unwrap_or_else(|| "-".to_owned()),
                a.alert.rule_id.clone(),
                a.alert.title.clone(),
            ]
        })
        .collect();
    table(&["ID", "STATUS", "SEVERITY", "FIRST SEEN", "EVENTS", "ASSIGNEE", "RULE", "TITLE"], &rows)
}

fn show_page(
    alert: &StoredAlert,
    signals: &[serde_json::Value],
    guide: &tripline_store::RuleGuide,
) -> String {
    let triage = guide.triage.as_str();
    use std::fmt::Write as _;
    let a = &alert.alert;
    let mut page = String::new();
    let _ = writeln!(page, "{} — {}", a.alert_id, a.title);
    let _ = writeln!(page, "rule:      {}", a.rule_id);
    if !guide.title.is_empty() && guide.title != a.rule_id {
        let _ = writeln!(page, "           {}", guide.title);
    }
    if !guide.mitre.is_empty() {
        let _ = writeln!(page, "att&ck:    {}", guide.mitre.join(", "));
    }
    let r = &a.representative;
    let or = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".to_owned());
    let _ = writeln!(
        page,
        "who:       {} from {} (account {}, {})",
        or(&r.actor),
        or(&r.source_ip),
        or(&r.account_id),
        or(&r.region)
    );
    let _ = writeln!(page, "severity:  {} (risk {})", a.severity, a.risk_score);
    let _ = writeln!(
        page,
        "status:    {}{}",
        alert.status.as_str(),
        alert.assignee.as_ref().map(|w| format!(", assigned to {w}")).unwrap_or_default()
    );
    let _ = writeln!(
        page,
        "seen:      {} … {} ({} event(s))",
        a.first_seen.as_deref().unwrap_or("?"),
        a.last_seen.as_deref().unwrap_or("?"),
        a.event_count
    );
    if !a.dedup_key.is_empty() {
        let _ = writeln!(page, "dedup key: {}", a.dedup_key);
    }
    for note in &alert.notes {
        let status = note.status.map(|s| format!(" [{}]", s.as_str())).unwrap_or_default();
        let _ = writeln!(page, "note:      {}{status} {}", note.at, note.text);
    }
    let _ = writeln!(page, "\nevents:");
    for s in signals {
        let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_owned();
        let _ = writeln!(
            page,
            "  {} {} {} {} by {} from {} ({})",
            text(&s["event_time"]),
            text(&s["aws_region"]),
            text(&s["event_source"]),
            text(&s["event_name"]),
            s["actor"]["arn"].as_str().or_else(|| s["actor"]["type"].as_str()).unwrap_or("?"),
            text(&s["source_ip"]),
            text(&s["event_id"])
        );
        // The rule's summary attributes, as Panther shows them with an alert.
        if let Some(summary) = s["summary"].as_object() {
            for (name, value) in summary.iter().filter(|(_, v)| !v.is_null()) {
                let value = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
                let _ = writeln!(page, "    {name}: {value}");
            }
        }
        if let Some(changes) = s["context"]["security_group_changes"].as_array() {
            for change in changes.iter().filter_map(|c| serde_json::from_value(c.clone()).ok()) {
                let _ = writeln!(page, "    {}", describe_change(&change));
            }
        }
        // What exactly was asked for: the first thing a responder reads after who and where.
        if let Some(request) = s.get("request_parameters") {
            let _ = writeln!(page, "    request: {request}");
        }
        if let Some(code) = s["context"]["error_code"].as_str() {
            let _ = writeln!(page, "    failed: {code}");
        }
    }
    if (a.event_count as usize) > signals.len() {
        let _ =
            writeln!(page, "  … {} more event(s) counted", a.event_count as usize - signals.len());
    }
    if !triage.trim().is_empty() {
        let _ = writeln!(page, "\ntriage:\n{}", triage.trim_end());
    }
    if !guide.references.is_empty() {
        let _ = writeln!(page, "\nreferences:");
        for reference in &guide.references {
            let _ = writeln!(page, "  {reference}");
        }
    }
    page
}
