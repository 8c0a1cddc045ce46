//! The ECS view: Elastic's field names over a CloudTrail record, mapped as the Elastic AWS
//! integration's ingest pipeline maps them (DESIGN.md, Fields), plus Tripline's derived fields.

use std::net::IpAddr;
use std::sync::LazyLock;

use serde_json::Value;

use crate::context::{security_group_changes, Exposure, SgChange};
use crate::fields;
use crate::maptext::map_text;
use crate::path::{is_empty, scalar_text, FieldKind, FieldPath};
use crate::record::Record;

/// ECS names that are plain renames of a CloudTrail path.
const ALIASES: &[(&str, &str)] = &[
    ("event.action", "eventName"),
    ("event.provider", "eventSource"),
    ("event.id", "eventID"),
    ("@timestamp", "eventTime"),
    ("cloud.region", "awsRegion"),
    ("aws.cloudtrail.recipient_account_id", "recipientAccountId"),
    ("user.id", "userIdentity.principalId"),
    ("aws.cloudtrail.user_identity.arn", "userIdentity.arn"),
    ("aws.cloudtrail.user_identity.type", "userIdentity.type"),
    ("aws.cloudtrail.user_identity.access_key_id", "userIdentity.accessKeyId"),
    ("aws.cloudtrail.user_identity.invoked_by", "userIdentity.invokedBy"),
    (
        "aws.cloudtrail.user_identity.session_context.session_issuer.arn",
        "userIdentity.sessionContext.sessionIssuer.arn",
    ),
    (
        "aws.cloudtrail.user_identity.session_context.session_issuer.type",
        "userIdentity.sessionContext.sessionIssuer.type",
    ),
    (
        "aws.cloudtrail.user_identity.session_context.session_issuer.principal_id",
        "userIdentity.sessionContext.sessionIssuer.principalId",
    ),
    (
        "aws.cloudtrail.user_identity.session_context.session_issuer.account_id",
        "userIdentity.sessionContext.sessionIssuer.accountId",
    ),
    (
        "aws.cloudtrail.user_identity.session_context.session_issuer.user_name",
        "userIdentity.sessionContext.sessionIssuer.userName",
    ),
    (
        "aws.cloudtrail.user_identity.session_context.mfa_authenticated",
        "userIdentity.sessionContext.attributes.mfaAuthenticated",
    ),
    (
        "aws.cloudtrail.user_identity.session_context.creation_date",
        "userIdentity.sessionContext.attributes.creationDate",
    ),
    ("aws.cloudtrail.session_credential_from_console", "sessionCredentialFromConsole"),
    ("source.address", "sourceIPAddress"),
    ("user_agent.original", "userAgent"),
    ("aws.cloudtrail.error_code", "errorCode"),
    ("aws.cloudtrail.error_message", "errorMessage"),
    ("aws.cloudtrail.read_only", "readOnly"),
    ("aws.cloudtrail.event_type", "eventType"),
    ("aws.cloudtrail.event_category", "eventCategory"),
    ("aws.cloudtrail.event_version", "eventVersion"),
    ("aws.cloudtrail.request_id", "requestID"),
    ("tls.client.server_name", "tlsDetails.clientProvidedHostHeader"),
    ("tls.cipher", "tlsDetails.cipherSuite"),
];

/// Prefixes under which Elastic keeps the objects themselves (`flattened` type).
const FLATTENED: &[(&str, &str)] = &[
    ("aws.cloudtrail.flattened.request_parameters", fields::REQUEST_PARAMETERS),
    ("aws.cloudtrail.flattened.response_elements", fields::RESPONSE_ELEMENTS),
    ("aws.cloudtrail.flattened.additional_eventdata", fields::ADDITIONAL_EVENT_DATA),
];

/// Ports whose exposure to the whole internet is an emergency rather than a change.
pub const ADMIN_PORTS: &[u16] = &[
    22, 23, 445, 1433, 1521, 2375, 2379, 3306, 3389, 5432, 5439, 5900, 5984, 6379, 9200, 11211,
    27017,
];

/// A value computed from more than one CloudTrail field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Computed {
    /// A constant such as `event.dataset: aws.cloudtrail`.
    Constant(&'static str),
    /// `event.outcome`.
    Outcome,
    /// `cloud.account.id`.
    CloudAccountId,
    /// `user.name`.
    UserName,
    /// `source.ip`: `sourceIPAddress` only when it is an IP address.
    SourceIp,
    /// `aws.cloudtrail.request_parameters` and friends: the object as Java `Map.toString()` text.
    MapText(&'static str),
    /// `aws.cloudtrail.console_login.additional_eventdata.*` booleans (`"No"` is false).
    ConsoleLoginFlag(&'static str),
    /// `aws.cloudtrail.console_login.additional_eventdata.login_to`.
    ConsoleLoginTo,
    /// `tls.version_protocol`: `tls` from `TLSv1.3`.
    TlsProtocol,
    /// `tls.version`: `1.3` from `TLSv1.3`.
    TlsVersion,
    /// `tripline.sg.ingress_opened_to`: the reach of each change that opens ingress
    /// (authorize-ingress, or a rule modified in place), `world`, `private` or `specific`.
    SgIngressOpenedTo,
    /// `tripline.sg.world_admin_ports`: administrative ports a change opens to the world.
    SgWorldAdminPorts,
    /// `tripline.sg.group`: the security group a call concerns, whatever the request shape
    /// (`groupId`, `groupName`, `ModifySecurityGroupRulesRequest.GroupId`, RDS/ElastiCache/
    /// Redshift group names).
    SgGroup,
    /// `tripline.any_value`: every scalar anywhere in the record (Sigma keyword searches).
    AnyValue,
}

/// Resolves an ECS or Tripline-derived name; `None` for anything else (a CloudTrail path).
#[must_use]
pub fn resolve(name: &str) -> Option<FieldKind> {
    if let Some((_, path)) = ALIASES.iter().find(|(ecs, _)| *ecs == name) {
        return Some(FieldKind::Path(FieldPath::parse(path)));
    }
    for (prefix, top) in FLATTENED {
        if let Some(rest) = name.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) {
            return Some(FieldKind::Path(FieldPath::parse(&format!("{top}.{rest}"))));
        }
    }
    let computed = match name {
        "event.dataset" | "data_stream.dataset" => Computed::Constant("aws.cloudtrail"),
        "event.outcome" => Computed::Outcome,
        "cloud.account.id" => Computed::CloudAccountId,
        "user.name" => Computed::UserName,
        "source.ip" => Computed::SourceIp,
        "aws.cloudtrail.request_parameters" => Computed::MapText(fields::REQUEST_PARAMETERS),
        "aws.cloudtrail.response_elements" => Computed::MapText(fields::RESPONSE_ELEMENTS),
        "aws.cloudtrail.additional_eventdata" => Computed::MapText(fields::ADDITIONAL_EVENT_DATA),
        "aws.cloudtrail.console_login.additional_eventdata.mfa_used" => {
            Computed::ConsoleLoginFlag("MFAUsed")
        }
        "aws.cloudtrail.console_login.additional_eventdata.mobile_version" => {
            Computed::ConsoleLoginFlag("MobileVersion")
        }
        "aws.cloudtrail.console_login.additional_eventdata.login_to" => Computed::ConsoleLoginTo,
        "tls.version_protocol" => Computed::TlsProtocol,
        "tls.version" => Computed::TlsVersion,
        "tripline.sg.ingress_opened_to" => Computed::SgIngressOpenedTo,
        "tripline.sg.world_admin_ports" => Computed::SgWorldAdminPorts,
        "tripline.sg.group" => Computed::SgGroup,
        "tripline.any_value" => Computed::AnyValue,
        _ => return None,
    };
    Some(FieldKind::Computed(computed))
}

fn text_at(record: &Record<'_>, top: &str, rest: &[&str]) -> Option<String> {
    let mut value = record.value(top)?;
    for key in rest {
        value = value.get(key)?;
    }
    scalar_text(value)
}

fn is_console_login(record: &Record<'_>) -> bool {
    record.str(fields::EVENT_NAME).as_deref() == Some("ConsoleLogin")
}

fn split_tls(record: &Record<'_>) -> Option<(String, String)> {
    let version = text_at(record, "tlsDetails", &["tlsVersion"])?;
    let digits = version.find(|c: char| c.is_ascii_digit())?;
    let (protocol, number) = version.split_at(digits);
    Some((protocol.trim_end_matches('v').to_ascii_lowercase(), number.to_owned()))
}

static DATASET: LazyLock<Value> = LazyLock::new(|| Value::String("aws.cloudtrail".to_owned()));
static SUCCESS: LazyLock<Value> = LazyLock::new(|| Value::String("success".to_owned()));
static FAILURE: LazyLock<Value> = LazyLock::new(|| Value::String("failure".to_owned()));

impl Computed {
    /// Whether the field exists, when that is cheaper to say than computing the value
    /// (`source.ip:*` is common in Elastic rules); `None` means "compute it".
    #[must_use]
    pub fn exists_fast(&self, record: &Record<'_>) -> Option<bool> {
        match self {
            Self::Constant(_) | Self::Outcome => Some(true),
            Self::SourceIp => Some(
                record.str(fields::SOURCE_IP_ADDRESS).is_some_and(|s| s.parse::<IpAddr>().is_ok()),
            ),
            _ => None,
        }
    }

    /// The value when it is one of a few constants, served without allocating (the hot path of
    /// Elastic rules, which all test `event.dataset` and most `event.outcome`); `None` means
    /// "compute it".
    #[must_use]
    pub fn static_value(&self, record: &Record<'_>) -> Option<&'static Value> {
        match self {
            Self::Constant("aws.cloudtrail") => Some(&DATASET),
            Self::Outcome => {
                if record.has_console_outcome() {
                    // Console sign-ins take their outcome from the response: not a constant.
                    return None;
                }
                Some(if record.failed() { &FAILURE } else { &SUCCESS })
            }
            _ => None,
        }
    }

    /// The value in `record`; `None` when the ECS view would not have the field.
    #[must_use]
    pub fn compute(&self, record: &Record<'_>) -> Option<Value> {
        let text = |s: String| Some(Value::String(s));
        match self {
            Self::Constant(c) => text((*c).to_owned()),
            Self::Outcome => {
                if is_console_login(record) {
                    if let Some(result) =
                        text_at(record, fields::RESPONSE_ELEMENTS, &["ConsoleLogin"])
                    {
                        return text(result.to_lowercase());
                    }
                }
                text(if record.failed() { "failure" } else { "success" }.to_owned())
            }
            Self::CloudAccountId => text_at(record, fields::USER_IDENTITY, &["accountId"])
                .or_else(|| record.str(fields::RECIPIENT_ACCOUNT_ID).map(|s| s.into_owned()))
                .and_then(text),
            Self::UserName => {
                let identity_center = text_at(record, fields::USER_IDENTITY, &["type"]).as_deref()
                    == Some("IdentityCenterUser");
                let name = if identity_center {
                    text_at(record, fields::ADDITIONAL_EVENT_DATA, &["UserName"])
                } else {
                    None
                };
                name.or_else(|| {
                    text_at(
                        record,
                        fields::USER_IDENTITY,
                        &["sessionContext", "sessionIssuer", "userName"],
                    )
                })
                .or_else(|| text_at(record, fields::USER_IDENTITY, &["userName"]))
                .and_then(text)
            }
            Self::SourceIp => record
                .str(fields::SOURCE_IP_ADDRESS)
                .filter(|s| s.parse::<IpAddr>().is_ok())
                .and_then(|s| text(s.into_owned())),
            Self::MapText(top) => {
                record.value(top).filter(|v| !is_empty(v)).map(|v| Value::String(map_text(v)))
            }
            Self::ConsoleLoginFlag(key) => {
                let raw = is_console_login(record)
                    .then(|| text_at(record, fields::ADDITIONAL_EVENT_DATA, &[key]))??;
                Some(Value::Bool(raw != "No"))
            }
            Self::ConsoleLoginTo => is_console_login(record)
                .then(|| text_at(record, fields::ADDITIONAL_EVENT_DATA, &["LoginTo"]))?
                .and_then(text),
            Self::TlsProtocol => split_tls(record).and_then(|(p, _)| text(p)),
            Self::TlsVersion => split_tls(record).and_then(|(_, v)| text(v)),
            Self::SgIngressOpenedTo => {
                let exposures: Vec<Value> = security_group_changes(record)
                    .into_iter()
                    .filter(SgChange::opens_ingress)
                    .map(|c| Value::String(c.exposure.as_str().to_owned()))
                    .collect();
                (!exposures.is_empty()).then_some(Value::Array(exposures))
            }
            Self::AnyValue => {
                let mut leaves = Vec::new();
                collect_scalars(&record.to_value(), &mut leaves);
                Some(Value::Array(leaves))
            }
            Self::SgGroup => {
                let from_changes = security_group_changes(record).into_iter().find_map(|c| c.group);
                from_changes.or_else(|| group_of_request(record)).map(Value::String)
            }
            Self::SgWorldAdminPorts => {
                let mut ports: Vec<u16> = security_group_changes(record)
                    .iter()
                    .filter(|c| c.opens_ingress() && c.exposure == Exposure::World)
                    .flat_map(|c| ADMIN_PORTS.iter().copied().filter(|p| c.covers_port(*p)))
                    .collect();
                ports.sort_unstable();
                ports.dedup();
                (!ports.is_empty())
                    .then(|| Value::Array(ports.into_iter().map(Value::from).collect()))
            }
        }
    }
}

fn collect_scalars(value: &Value, out: &mut Vec<Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| collect_scalars(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_scalars(v, out)),
        Value::Null => {}
        scalar => out.push(scalar.clone()),
    }
}

/// The group named by a request that carries no rule changes (create, delete, modify-instance).
fn group_of_request(record: &Record<'_>) -> Option<String> {
    const KEYS: [&str; 6] = [
        "groupId",
        "groupName",
        "dBSecurityGroupName",
        "cacheSecurityGroupName",
        "clusterSecurityGroupName",
        "GroupId",
    ];
    let params = record.value(fields::REQUEST_PARAMETERS)?;
    let response = record.value(fields::RESPONSE_ELEMENTS);
    KEYS.iter()
        .find_map(|k| params.get(*k).and_then(scalar_text))
        .or_else(|| response.and_then(|r| r.get("groupId")).and_then(scalar_text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::Field;
    use crate::record::OwnedRecord;
    use serde_json::json;

    fn ecs(name: &str, record: &Value) -> Option<Value> {
        let owned = OwnedRecord::from_value(record).expect("object");
        let record = owned.record().expect("object");
        let mut found = None;
        Field::resolve(name).any_value(&record, &mut |v| {
            found = Some(v.clone());
            true
        });
        found
    }

    #[test]
    fn outcome_follows_error_fields_and_console_login() {
        let ok = json!({"eventName": "CreateSecurityGroup"});
        assert_eq!(ecs("event.outcome", &ok), Some(json!("success")));
        let failed = json!({"eventName": "CreateSecurityGroup", "errorMessage": "denied"});
        assert_eq!(ecs("event.outcome", &failed), Some(json!("failure")));
        let login =
            json!({"eventName": "ConsoleLogin", "responseElements": {"ConsoleLogin": "Failure"}});
        assert_eq!(ecs("event.outcome", &login), Some(json!("failure")));
    }

    #[test]
    fn account_and_user_follow_the_pipeline() {
        let role = json!({"eventName": "X", "recipientAccountId": "2",
            "userIdentity": {"accountId": "1", "userName": "u",
                "sessionContext": {"sessionIssuer": {"userName": "role"}}}});
        assert_eq!(ecs("cloud.account.id", &role), Some(json!("1")));
        assert_eq!(ecs("user.name", &role), Some(json!("role")));
        let service = json!({"eventName": "X", "recipientAccountId": "2", "userIdentity": {"type": "AWSService"}});
        assert_eq!(ecs("cloud.account.id", &service), Some(json!("2")));
    }

    #[test]
    fn source_ip_only_for_addresses() {
        assert_eq!(
            ecs("source.ip", &json!({"eventName": "X", "sourceIPAddress": "1.2.3.4"})),
            Some(json!("1.2.3.4"))
        );
        assert_eq!(
            ecs("source.ip", &json!({"eventName": "X", "sourceIPAddress": "AWS Internal"})),
            None
        );
        assert_eq!(
            ecs("source.address", &json!({"eventName": "X", "sourceIPAddress": "AWS Internal"})),
            Some(json!("AWS Internal"))
        );
    }

    #[test]
    fn tls_version_splits() {
        let r = json!({"eventName": "X", "tlsDetails": {"tlsVersion": "TLSv1.3"}});
        assert_eq!(ecs("tls.version_protocol", &r), Some(json!("tls")));
        assert_eq!(ecs("tls.version", &r), Some(json!("1.3")));
    }

    #[test]
    fn console_login_flags_are_booleans_only_for_console_login() {
        let r = json!({"eventName": "ConsoleLogin", "additionalEventData": {"MFAUsed": "No", "LoginTo": "https://x"}});
        assert_eq!(
            ecs("aws.cloudtrail.console_login.additional_eventdata.mfa_used", &r),
            Some(json!(false))
        );
        assert_eq!(
            ecs("aws.cloudtrail.console_login.additional_eventdata.login_to", &r),
            Some(json!("https://x"))
        );
        let other = json!({"eventName": "GetUser", "additionalEventData": {"MFAUsed": "No"}});
        assert_eq!(ecs("aws.cloudtrail.console_login.additional_eventdata.mfa_used", &other), None);
    }

    #[test]
    fn flattened_and_text_forms_of_request_parameters() {
        let r =
            json!({"eventName": "X", "requestParameters": {"groupId": "sg-1", "ports": [22, 80]}});
        assert_eq!(
            ecs("aws.cloudtrail.flattened.request_parameters.groupId", &r),
            Some(json!("sg-1"))
        );
        assert_eq!(
            ecs("aws.cloudtrail.request_parameters", &r),
            Some(json!("{groupId=sg-1, ports=[22, 80]}"))
        );
    }
}

#[cfg(test)]
mod derived_tests {
    use super::*;
    use crate::path::Field;
    use crate::record::OwnedRecord;
    use serde_json::json;

    fn all(name: &str, record: &Value) -> Vec<Value> {
        let owned = OwnedRecord::from_value(record).expect("object");
        let record = owned.record().expect("object");
        let mut out = Vec::new();
        Field::resolve(name).any_value(&record, &mut |v| {
            out.push(v.clone());
            false
        });
        out
    }

    #[test]
    fn the_group_is_found_in_every_request_shape() {
        let modify = json!({"eventName": "ModifySecurityGroupRules", "requestParameters": {"ModifySecurityGroupRulesRequest": {"GroupId": "sg-9",
            "SecurityGroupRule": {"SecurityGroupRuleId": "sgr-1", "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv4": "0.0.0.0/0"}}}}});
        assert_eq!(all("tripline.sg.group", &modify), vec![json!("sg-9")]);
        let create = json!({"eventName": "CreateSecurityGroup", "requestParameters": {"groupName": "web"}, "responseElements": {"groupId": "sg-2"}});
        assert_eq!(all("tripline.sg.group", &create), vec![json!("web")]);
        let rds = json!({"eventName": "CreateDBSecurityGroup", "requestParameters": {"dBSecurityGroupName": "legacy-db"}});
        assert_eq!(all("tripline.sg.group", &rds), vec![json!("legacy-db")]);
    }

    #[test]
    fn world_admin_ports_come_only_from_world_ingress_covering_them() {
        let ingress = |cidr: &str, from: i64, to: i64| {
            json!({"eventName": "AuthorizeSecurityGroupIngress", "requestParameters": {
            "groupId": "sg-1", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": from, "toPort": to,
            "ipRanges": {"items": [{"cidrIp": cidr}]}}]}}})
        };
        assert_eq!(
            all("tripline.sg.world_admin_ports", &ingress("0.0.0.0/0", 20, 23)),
            vec![json!(22), json!(23)]
        );
        assert!(all("tripline.sg.world_admin_ports", &ingress("0.0.0.0/0", 443, 443)).is_empty());
        assert!(all("tripline.sg.world_admin_ports", &ingress("10.0.0.0/8", 22, 22)).is_empty());
        assert_eq!(
            all("tripline.sg.ingress_opened_to", &ingress("0.0.0.0/0", 443, 443)),
            vec![json!("world")]
        );
        let egress = json!({"eventName": "AuthorizeSecurityGroupEgress", "requestParameters": {"groupId": "sg-1",
            "ipPermissions": {"items": [{"ipProtocol": "-1", "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}});
        assert!(all("tripline.sg.ingress_opened_to", &egress).is_empty());
    }
}
