//! One rule matching one record, with the record's context.

use std::cmp::Ordering;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tripline_event::context::{
    actor, record_indicators, security_group_changes, Actor, Indicators, SgChange,
};
use tripline_event::path::scalar_text;
use tripline_event::time::parse_event_time;
use tripline_event::{fields, Field, Record};
use tripline_rule::{Rule, Severity};

/// Where a record came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRef {
    /// The file, or `<stdin>`; shared by every signal of the file.
    pub file: Arc<str>,
    /// The record's 0-based index in the file.
    pub record: usize,
    /// The line, for JSON lines input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl Ord for InputRef {
    /// File, record, line. Signals of one file share its name, so most comparisons (sorting a
    /// scan's signals by time, ties by input) are settled without reading the names.
    fn cmp(&self, other: &Self) -> Ordering {
        let file = if Arc::ptr_eq(&self.file, &other.file) {
            Ordering::Equal
        } else {
            self.file.cmp(&other.file)
        };
        file.then(self.record.cmp(&other.record)).then(self.line.cmp(&other.line))
    }
}

impl PartialOrd for InputRef {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// What a responder needs beyond the top-level fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// `recipientAccountId`: whose resources were touched.
    pub recipient_account_id: Option<String>,
    /// `errorCode`, when the call failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// `errorMessage`, when the call failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// ARNs, IP addresses and account ids found anywhere in the record.
    pub indicators: Indicators,
    /// The normalised security-group change list (empty for other calls).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub security_group_changes: Vec<SgChange>,
    /// The rule's named context values (Panther's `AlertContext`).
    #[serde(skip_serializing_if = "Map::is_empty", default)]
    pub alert_context: Map<String, Value>,
    /// For a correlation's signal: what was correlated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation: Option<crate::correlate::CorrelationContext>,
}

/// One rule matching one record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// The rule's id.
    pub rule_id: String,
    /// The rule's title, placeholders filled from the record.
    pub rule_title: String,
    /// The rule's severity.
    pub severity: Severity,
    /// The rule's risk score.
    pub risk_score: u8,
    /// `eventID`.
    pub event_id: Option<String>,
    /// `eventTime` as written.
    pub event_time: Option<String>,
    /// `eventName`.
    pub event_name: String,
    /// `eventSource`.
    pub event_source: Option<String>,
    /// `awsRegion`.
    pub aws_region: Option<String>,
    /// The caller's account (`userIdentity.accountId`, else `recipientAccountId`).
    pub account_id: Option<String>,
    /// The caller.
    pub actor: Actor,
    /// `sourceIPAddress`.
    pub source_ip: Option<String>,
    /// `userAgent`.
    pub user_agent: Option<String>,
    /// The rule's summary attributes and their values.
    pub summary: Map<String, Value>,
    /// Everything else a responder needs.
    pub context: Context,
    /// Where the record came from.
    pub input: InputRef,
    /// The rendered dedup key (empty when the rule has no dedup).
    #[serde(skip)]
    pub dedup_key: String,
    /// Parsed `eventTime`, for windows.
    #[serde(skip)]
    pub time: Option<DateTime<Utc>>,
    /// Values of the fields correlations group by, captured from the record.
    #[serde(skip)]
    pub captured: std::collections::BTreeMap<String, Vec<String>>,
    /// The record's `requestParameters` as written, for the store (`alerts show`); not part
    /// of the signal's JSON, which the output contract fixes. Shared by the record's signals.
    #[serde(skip)]
    pub request_parameters: Option<Arc<str>>,
}

fn text(record: &Record<'_>, key: &str) -> Option<String> {
    record.str(key).map(|s| s.into_owned())
}

/// Summary attribute names that mean "every ARN in the record" (Panther's `p_any_aws_arns`).
const ANY_ARNS: &[&str] = &["any_aws_arns", "p_any_aws_arns"];

fn summary(rule: &Rule, record: &Record<'_>, found: &Indicators) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, field) in rule.meta.summary_attributes.iter().zip(rule.summary_fields()) {
        let value = if ANY_ARNS.contains(&name.as_str()) {
            Value::from(found.arns.clone())
        } else {
            // Case-insensitive, as Panther's summary attributes are (`sourceIpAddress`).
            let mut values = Vec::new();
            field.any_value(record, &mut |v| {
                values.push(scalar_text(v).map_or_else(|| v.clone(), Value::String));
                false
            });
            match values.len() {
                0 => Value::Null,
                1 => values.pop().unwrap_or(Value::Null),
                _ => Value::Array(values),
            }
        };
        out.insert(name.clone(), value);
    }
    out
}

/// The text values of a field in a record.
#[must_use]
pub fn field_texts(field: &Field, record: &Record<'_>) -> Vec<String> {
    let mut values = Vec::new();
    field.any_value(record, &mut |v| {
        values.extend(scalar_text(v));
        false
    });
    values
}

/// What every signal of one record shares, whichever rule matched: its identity, the caller,
/// the indicators found anywhere in it and the security-group change list. Computed once per
/// record (finding the indicators reads the whole record), then given to each of its signals.
#[derive(Debug, Clone, Default)]
pub struct RecordFacts {
    event_id: Option<String>,
    event_time: Option<String>,
    time: Option<DateTime<Utc>>,
    event_name: String,
    event_source: Option<String>,
    aws_region: Option<String>,
    actor: Actor,
    source_ip: Option<String>,
    user_agent: Option<String>,
    recipient: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
    indicators: Indicators,
    changes: Vec<SgChange>,
    request_parameters: Option<Arc<str>>,
}

impl RecordFacts {
    /// The facts of `record`.
    #[must_use]
    pub fn of(record: &Record<'_>) -> Self {
        let event_time = text(record, fields::EVENT_TIME);
        Self {
            event_id: text(record, fields::EVENT_ID),
            time: event_time.as_deref().and_then(parse_event_time),
            event_time,
            event_name: text(record, fields::EVENT_NAME).unwrap_or_default(),
            event_source: text(record, fields::EVENT_SOURCE),
            aws_region: text(record, fields::AWS_REGION),
            actor: actor(record),
            source_ip: text(record, fields::SOURCE_IP_ADDRESS),
            user_agent: text(record, fields::USER_AGENT),
            recipient: text(record, fields::RECIPIENT_ACCOUNT_ID),
            error_code: text(record, fields::ERROR_CODE),
            error_message: text(record, fields::ERROR_MESSAGE),
            indicators: record_indicators(record),
            changes: security_group_changes(record),
            request_parameters: record
                .raw(fields::REQUEST_PARAMETERS)
                .map(|raw| raw.get())
                .filter(|text| *text != "null")
                .map(Arc::from),
        }
    }
}

impl Signal {
    /// Builds the signal for `rule` matching `record`.
    #[must_use]
    pub fn build(rule: &Rule, record: &Record<'_>, input: InputRef) -> Self {
        Self::with_facts(rule, record, RecordFacts::of(record), input)
    }

    /// Builds the signal for `rule` matching `record`, whose facts are `facts` (computed once
    /// for all of the record's signals).
    #[must_use]
    pub fn with_facts(
        rule: &Rule,
        record: &Record<'_>,
        facts: RecordFacts,
        input: InputRef,
    ) -> Self {
        let captured = rule
            .alerting
            .capture_fields()
            .into_iter()
            .map(|f| (f.name().to_owned(), field_texts(f, record)))
            .collect();
        let RecordFacts {
            event_id,
            event_time,
            time,
            event_name,
            event_source,
            aws_region,
            actor,
            source_ip,
            user_agent,
            recipient,
            error_code,
            error_message,
            indicators,
            changes,
            request_parameters,
        } = facts;
        Self {
            rule_id: rule.meta.id.clone(),
            rule_title: rule.title_template().render(record),
            severity: rule.meta.severity(),
            risk_score: rule.meta.risk_score(),
            event_id,
            time,
            event_time,
            event_name,
            event_source,
            aws_region,
            account_id: actor.account_id.clone().or_else(|| recipient.clone()),
            source_ip,
            user_agent,
            summary: summary(rule, record, &indicators),
            context: Context {
                recipient_account_id: recipient,
                error_code,
                error_message,
                indicators,
                security_group_changes: changes,
                alert_context: rule
                    .meta
                    .alert_context
                    .iter()
                    .map(|(name, field)| {
                        let mut values: Vec<Value> =
                            field_texts(field, record).into_iter().map(Value::String).collect();
                        let value = if values.len() == 1 {
                            values.pop().unwrap_or(Value::Null)
                        } else {
                            Value::Array(values)
                        };
                        (name.clone(), value)
                    })
                    .collect(),
                correlation: None,
            },
            captured,
            request_parameters,
            actor,
            input,
            dedup_key: rule
                .alerting
                .dedup
                .as_ref()
                .map(|d| d.key.render(record))
                .unwrap_or_default(),
        }
    }
}
