//! Slack, through an incoming-webhook URL: one message per alert change, in Block Kit — a
//! header with the severity and title, the facts a responder reads first (rule, actor, source
//! address, account and region, first and last seen, events), the security-group changes when
//! there are any, the rule's first triage step, and a context line with the alert id. `text`
//! carries the same in one line for notifications and clients without blocks.
//!
//! Block Kit's limits are kept: a header's text is plain text of at most 150 characters, a
//! section's text at most 3,000, at most 10 fields of at most 2,000 each, at most 50 blocks.

use serde_json::{json, Value};
use tripline_alert::Signal;
use tripline_rule::Severity;

use super::http::Poster;
use super::{Channel, DeliveryError, Notification};
use crate::sink::text::describe_change;

const HEADER_MAX: usize = 150;
const SECTION_MAX: usize = 3000;
const FIELD_MAX: usize = 2000;
/// Change lines shown; the rest are counted.
const CHANGES_SHOWN: usize = 10;

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(max - 1).collect();
    clipped.push('…');
    clipped
}

/// Slack's mrkdwn treats `&`, `<` and `>` as control characters.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn marker(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => ":red_circle:",
        Severity::High => ":large_orange_circle:",
        Severity::Medium => ":large_yellow_circle:",
        Severity::Low => ":large_blue_circle:",
        Severity::Info => ":white_circle:",
    }
}

fn field(name: &str, value: &str) -> Value {
    json!({"type": "mrkdwn", "text": clip(&format!("*{name}*\n{}", escape(value)), FIELD_MAX)})
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_MAX)}})
}

/// The message Slack receives for `notification`.
#[must_use]
pub fn message(notification: &Notification) -> Value {
    let alert = &notification.alert;
    let first: Option<&Signal> = notification.signals.first();
    let severity = alert.severity;
    let title = format!("{} {}: {}", marker(severity), capitalised(severity), alert.title);
    let or_dash = |v: Option<&str>| v.filter(|s| !s.is_empty()).unwrap_or("-").to_owned();
    let actor = first.and_then(|s| s.actor.arn.as_deref().or(s.actor.kind.as_deref()));
    let account = first.and_then(|s| s.account_id.as_deref());
    let region = first.and_then(|s| s.aws_region.as_deref());
    let mut fields = vec![
        field("Rule", &alert.rule_id),
        field("Severity", &format!("{severity} (risk {})", alert.risk_score)),
        field("Actor", &or_dash(actor)),
        field("Source", &or_dash(first.and_then(|s| s.source_ip.as_deref()))),
        field("Account / region", &format!("{} / {}", or_dash(account), or_dash(region))),
        field("Events", &format!("{} ({})", alert.event_count, change_word(notification))),
        field("First seen", &or_dash(alert.first_seen.as_deref())),
        field("Last seen", &or_dash(alert.last_seen.as_deref())),
    ];
    if let Some(first) = first {
        fields.push(field(
            "API call",
            &format!("{} ({})", first.event_name, or_dash(first.event_source.as_deref())),
        ));
    }
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": clip(&title, HEADER_MAX), "emoji": true}}),
        json!({"type": "section", "fields": fields}),
    ];
    let changes: Vec<String> = notification
        .signals
        .iter()
        .flat_map(|s| &s.context.security_group_changes)
        .map(describe_change)
        .collect();
    if !changes.is_empty() {
        let mut text = String::from("*Security-group changes*");
        for change in changes.iter().take(CHANGES_SHOWN) {
            text.push_str(&format!("\n• `{}`", escape(change)));
        }
        if changes.len() > CHANGES_SHOWN {
            text.push_str(&format!("\n… and {} more", changes.len() - CHANGES_SHOWN));
        }
        blocks.push(section(&text));
    }
    if let Some(step) = notification.rule.first_triage_step() {
        blocks.push(section(&format!("*First triage step*\n{}", escape(&step))));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn",
        "text": clip(&format!("Tripline alert `{}` · {}", alert.alert_id, notification.key), FIELD_MAX)}]}));
    let text =
        format!("[{severity}] {} ({} event(s), {})", alert.title, alert.event_count, alert.rule_id);
    json!({"text": clip(&escape(&text), SECTION_MAX), "blocks": blocks})
}

fn capitalised(severity: Severity) -> String {
    let name = severity.to_string();
    let mut chars = name.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn change_word(notification: &Notification) -> &'static str {
    match notification.change {
        crate::sink::ChangeKind::Raised => "raised",
        crate::sink::ChangeKind::Extended => "more events",
        crate::sink::ChangeKind::Closed => "closed: the changed rule no longer matches",
    }
}

/// Posts each notification to a Slack incoming webhook.
pub struct Slack {
    poster: Poster,
}

impl Slack {
    /// Slack through `poster` (whose URL is the incoming-webhook URL).
    #[must_use]
    pub fn new(poster: Poster) -> Self {
        Self { poster }
    }
}

impl Channel for Slack {
    fn deliver(&self, notification: &Notification) -> Result<(), DeliveryError> {
        let body = serde_json::to_vec(&message(notification)).expect("JSON values serialise");
        self.poster.post(&body, &notification.key)
    }
}
