//! OCSF: each alert change as a Detection Finding (class 2004, schema 1.5.0), one JSON object
//! per line — what Amazon Security Lake and other OCSF consumers take. The rule is the
//! finding's analytic, its ATT&CK ids are `attacks`, severity maps onto `severity_id`, and each
//! of the first signals becomes an evidence artifact with the actor, the source endpoint and
//! the API operation; the cloud profile carries account and region. (The finding's own `api`
//! is left out: an alert may span several calls, and each evidence names its own.)
//!
//! A raised alert is activity 1 (Create), an extended one 2 (Update), so a consumer keyed on
//! `finding_info.uid` (the alert id) sees one finding that grows.

use std::io::Write;
use std::sync::Mutex;

use serde_json::{json, Map, Value};
use tripline_alert::Signal;
use tripline_event::time::parse_event_time;
use tripline_rule::attack::tactic_name;
use tripline_rule::Severity;

use super::{Channel, DeliveryError, Notification};
use crate::sink::ChangeKind;

/// The OCSF schema version written.
pub const OCSF_VERSION: &str = "1.5.0";
const CLASS_UID: u32 = 2004;
const CATEGORY_UID: u32 = 2;

fn severity_id(severity: Severity) -> u8 {
    match severity {
        Severity::Info => 1,
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
        Severity::Critical => 5,
    }
}

fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "Informational",
        Severity::Low => "Low",
        Severity::Medium => "Medium",
        Severity::High => "High",
        Severity::Critical => "Critical",
    }
}

/// Milliseconds since the epoch of an event time.
fn millis(time: Option<&str>) -> Option<i64> {
    time.and_then(parse_event_time).map(|t| t.timestamp_millis())
}

/// One `attacks` entry per technique (sub-techniques under theirs), each with the rule's
/// tactic when it names exactly one; tactics alone when there is no technique. ATT&CK's
/// technique names are not bundled, so a technique is named by its id.
fn attacks(mitre: &[String]) -> Vec<Value> {
    let tactics: Vec<&String> = mitre.iter().filter(|id| id.starts_with("TA")).collect();
    let tactic = |id: &str| json!({"uid": id, "name": tactic_name(id).unwrap_or(id)});
    let only_tactic = (tactics.len() == 1).then(|| tactic(tactics[0]));
    let mut out = Vec::new();
    let techniques: Vec<&String> =
        mitre.iter().filter(|id| id.starts_with('T') && !id.starts_with("TA")).collect();
    for id in &techniques {
        let (parent, sub) = match id.split_once('.') {
            Some((parent, _)) => (parent, Some(id.as_str())),
            None if techniques.iter().any(|t| t.starts_with(&format!("{id}."))) => continue,
            None => (id.as_str(), None),
        };
        let mut attack = Map::new();
        attack.insert("version".into(), json!("v16"));
        attack.insert("technique".into(), json!({"uid": parent, "name": parent}));
        if let Some(sub) = sub {
            attack.insert("sub_technique".into(), json!({"uid": sub, "name": sub}));
        }
        if let Some(tactic) = &only_tactic {
            attack.insert("tactic".into(), tactic.clone());
        }
        out.push(Value::Object(attack));
    }
    if techniques.is_empty() {
        out.extend(tactics.iter().map(|id| json!({"version": "v16", "tactic": tactic(id)})));
    }
    out
}

/// OCSF's user types: CloudTrail's root is an admin, AWS services are the system, every other
/// identity a user.
fn user_type_id(kind: Option<&str>) -> u8 {
    match kind {
        None => 0,
        Some("Root") => 2,
        Some("AWSService") => 3,
        Some(_) => 1,
    }
}

fn evidence(signal: &Signal) -> Value {
    let actor = &signal.actor;
    let user_name = actor
        .arn
        .as_deref()
        .and_then(|arn| arn.rsplit('/').next())
        .or(actor.principal_id.as_deref())
        .unwrap_or("unknown");
    let account = actor.account_id.as_deref().or(signal.account_id.as_deref()).unwrap_or("unknown");
    let mut user = json!({
        "name": user_name,
        "uid": actor.arn.as_deref().or(actor.principal_id.as_deref()).unwrap_or("unknown"),
        "type": actor.kind.as_deref().unwrap_or("Unknown"),
        "type_id": user_type_id(actor.kind.as_deref()),
        "account": {"uid": account, "name": account, "type": "AWS Account", "type_id": 10},
    });
    if let Some(key) = &actor.access_key_id {
        user["credential_uid"] = json!(key);
    }
    let mut actor_object = json!({"user": user});
    if let Some(issuer) = &actor.session_issuer_arn {
        actor_object["session"] = json!({"issuer": issuer});
    }
    let source = signal.source_ip.as_deref().unwrap_or("");
    let src_endpoint = if source.parse::<std::net::IpAddr>().is_ok() {
        json!({"ip": source})
    } else {
        json!({"svc_name": source})
    };
    let service = signal.event_source.as_deref().unwrap_or("unknown");
    let mut data = json!({"event_id": signal.event_id, "event_time": signal.event_time, "aws_region": signal.aws_region, "user_agent": signal.user_agent});
    if !signal.context.security_group_changes.is_empty() {
        data["security_group_changes"] = json!(signal.context.security_group_changes);
    }
    if let Some(code) = &signal.context.error_code {
        data["error_code"] = json!(code);
    }
    json!({
        "name": signal.event_name,
        "actor": actor_object,
        "src_endpoint": src_endpoint,
        // The service's version is not in a CloudTrail record; OCSF models (py-ocsf-models)
        // require the field, so it says so rather than guess.
        "api": {"operation": signal.event_name, "service": {"name": service, "uid": service, "version": "unknown"}},
        "data": data,
    })
}

/// The Detection Finding of `notification`.
#[must_use]
pub fn finding(notification: &Notification) -> Value {
    let alert = &notification.alert;
    let rule = &notification.rule;
    let activity_id: u32 = match notification.change {
        ChangeKind::Raised => 1,
        ChangeKind::Extended => 2,
        ChangeKind::Closed => 3,
    };
    let activity_name = ["Create", "Update", "Close"][activity_id as usize - 1];
    // A finding closed because its rule no longer matches is resolved; the others are new.
    let (status_id, status) =
        if notification.change == ChangeKind::Closed { (4, "Resolved") } else { (1, "New") };
    let first_seen = millis(alert.first_seen.as_deref());
    let last_seen = millis(alert.last_seen.as_deref());
    let first = notification.signals.first();
    let account =
        first.and_then(|s| s.context.recipient_account_id.clone().or_else(|| s.account_id.clone()));
    let mut cloud = json!({"provider": "AWS"});
    if let Some(region) = first.and_then(|s| s.aws_region.as_deref()) {
        cloud["region"] = json!(region);
    }
    if let Some(account) = &account {
        cloud["account"] =
            json!({"uid": account, "name": account, "type": "AWS Account", "type_id": 10});
    }
    let mut analytic = json!({"uid": rule.id, "name": if rule.title.is_empty() { &rule.id } else { &rule.title }, "type": "Rule", "type_id": 1});
    if let Some(origin) = &rule.origin {
        analytic["version"] = json!(origin);
    }
    let mut finding_info = json!({
        "uid": alert.alert_id,
        "title": alert.title,
        "desc": rule.description,
        "analytic": analytic,
        "attacks": attacks(&rule.mitre),
        "data_sources": ["AWS CloudTrail"],
        "types": ["Tripline alert"],
        "first_seen_time": first_seen,
        "last_seen_time": last_seen,
    });
    if let Some(url) = rule.references.first() {
        finding_info["src_url"] = json!(url);
    }
    let resources: Vec<Value> = notification
        .signals
        .iter()
        .flat_map(|s| &s.context.security_group_changes)
        .filter_map(|c| c.group.as_deref())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|group| json!({"uid": group, "type": "AWS::EC2::SecurityGroup", "region": first.and_then(|s| s.aws_region.as_deref())}))
        .collect();
    let mut out = json!({
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": CLASS_UID * 100 + activity_id,
        "type_name": format!("Detection Finding: {activity_name}"),
        "severity_id": severity_id(alert.severity),
        "severity": severity_name(alert.severity),
        "status_id": status_id,
        "status": status,
        "time": last_seen.or(first_seen).unwrap_or(0),
        "start_time": first_seen,
        "end_time": last_seen,
        "count": alert.event_count,
        "risk_score": alert.risk_score,
        "message": alert.title,
        "metadata": {
            "version": OCSF_VERSION,
            "uid": notification.key,
            "correlation_uid": alert.alert_id,
            "event_code": rule.id,
            "profiles": ["cloud"],
            "product": {"name": "Tripline", "vendor_name": "Tripline", "version": env!("CARGO_PKG_VERSION")},
        },
        "finding_info": finding_info,
        "cloud": cloud,
        "evidences": notification.signals.iter().map(evidence).collect::<Vec<_>>(),
    });
    if !resources.is_empty() {
        out["resources"] = json!(resources);
    }
    if let Some(step) = rule.first_triage_step() {
        out["remediation"] = json!({"desc": step});
    }
    out
}

/// Writes each notification's finding as a line.
pub struct OcsfWriter {
    out: Mutex<Box<dyn Write + Send>>,
}

impl OcsfWriter {
    /// Findings written to `out`.
    #[must_use]
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self { out: Mutex::new(out) }
    }
}

impl Channel for OcsfWriter {
    fn deliver(&self, notification: &Notification) -> Result<(), DeliveryError> {
        let mut line = serde_json::to_vec(&finding(notification)).expect("JSON values serialise");
        line.push(b'\n');
        let mut out = self.out.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        out.write_all(&line).map_err(|e| DeliveryError::Write(e.to_string()))
    }

    fn flush(&self) -> Result<(), DeliveryError> {
        let mut out = self.out.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        out.flush().map_err(|e| DeliveryError::Write(e.to_string()))
    }
}
