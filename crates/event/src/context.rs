//! The context a responder needs, read from one record: the normalised security-group change
//! list and the indicators (ARNs, IP addresses, account ids) found anywhere in the record.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::fields;
pub use crate::indicators::{indicators, record_indicators, Indicators};
use crate::path::{first_text_in, first_text_raw, scalar_text};
use crate::record::{Record, TopLevel};

/// Which way a rule lets traffic through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Inbound to the group's members.
    Ingress,
    /// Outbound from the group's members.
    Egress,
    /// A modified rule whose direction the request does not say (`ModifySecurityGroupRules`).
    Unspecified,
}

/// Whether a change grants or removes access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Authorize: access added.
    Grant,
    /// Revoke: access removed.
    Revoke,
    /// Modify: a rule replaced in place.
    Modify,
}

/// How far a peer reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Exposure {
    /// `0.0.0.0/0`, `::/0` (any prefix length 0): the whole internet.
    World,
    /// Private, loopback or link-local ranges, and other security groups.
    Private,
    /// Anything narrower than the world and not private: a CIDR, prefix list or account.
    Specific,
}

impl Exposure {
    /// The lower-case name used in output and in `tripline.sg.exposure`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::World => "world",
            Self::Private => "private",
            Self::Specific => "specific",
        }
    }
}

/// One normalised security-group rule change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SgChange {
    /// The group changed: an id (`sg-…`) or, for RDS/ElastiCache/Redshift/EC2-Classic, a name.
    pub group: Option<String>,
    /// Grant, revoke or modify.
    pub action: Action,
    /// Ingress or egress.
    pub direction: Direction,
    /// `tcp`, `udp`, `icmp`, `-1` (all); `None` where the service has no protocols (RDS …).
    pub protocol: Option<String>,
    /// First port of the range; `None` for all ports.
    pub from_port: Option<i64>,
    /// Last port of the range; `None` for all ports.
    pub to_port: Option<i64>,
    /// The peer: a CIDR, a prefix list id, or a security group (id or name).
    pub peer: Option<String>,
    /// What kind of peer: `cidr`, `prefix_list`, `group`.
    #[serde(deserialize_with = "peer_kind")]
    pub peer_kind: PeerKind,
    /// How far the peer reaches.
    pub exposure: Exposure,
}

/// A peer kind's name. An alias, because serde borrows fields spelled `&str` from the input,
/// and a stored change is read back from text that does not live for `'static`.
pub type PeerKind = &'static str;

/// Reads a stored `peer_kind` back as one of the names this module writes.
fn peer_kind<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<&'static str, D::Error> {
    let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
    ["cidr", "prefix_list", "group"]
        .into_iter()
        .find(|k| *k == text)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown peer kind `{text}`")))
}

impl SgChange {
    /// True when the change grants or replaces access (rather than removing it).
    #[must_use]
    pub fn opens(&self) -> bool {
        self.action != Action::Revoke
    }

    /// True when the change lets more traffic in: an ingress grant, or a rule modified in
    /// place (its direction is not in the request, so it is treated as the riskier one).
    #[must_use]
    pub fn opens_ingress(&self) -> bool {
        self.opens() && self.direction != Direction::Egress
    }

    /// Whether the change's protocol and port range include TCP/UDP `port`.
    #[must_use]
    pub fn covers_port(&self, port: u16) -> bool {
        let all_protocols = matches!(self.protocol.as_deref(), None | Some("-1" | "all"));
        if all_protocols {
            return true;
        }
        if !matches!(self.protocol.as_deref(), Some("tcp" | "udp" | "6" | "17")) {
            return false;
        }
        match (self.from_port, self.to_port) {
            (Some(from), Some(to)) if from >= 0 && to >= 0 => {
                (from..=to).contains(&i64::from(port))
            }
            _ => true,
        }
    }
}

/// Classifies a CIDR's reach.
#[must_use]
pub fn cidr_exposure(cidr: &str) -> Exposure {
    let Ok(net) = cidr.trim().parse::<IpNet>() else {
        return match cidr.trim().parse::<IpAddr>() {
            Ok(ip) => ip_exposure(ip),
            Err(_) => Exposure::Specific,
        };
    };
    if net.prefix_len() == 0 {
        Exposure::World
    } else {
        ip_exposure(net.network())
    }
}

fn ip_exposure(ip: IpAddr) -> Exposure {
    let private = match ip {
        IpAddr::V4(v4) => {
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    };
    if private {
        Exposure::Private
    } else {
        Exposure::Specific
    }
}

fn number(value: &Value, key: &str) -> Option<i64> {
    match get_ci(value, key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn text(value: &Value, key: &str) -> Option<String> {
    get_ci(value, key).and_then(scalar_text)
}

/// Key lookup without regard to case: AWS services disagree on `cIDRIP` vs `cidrIp`.
fn get_ci<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    let map = value.as_object()?;
    map.get(key).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

/// `{"items": [...]}` as CloudTrail wraps EC2 lists, or a bare array.
fn items(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v @ Value::Object(_)) => match get_ci(v, "items") {
            Some(Value::Array(a)) => a.iter().collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

struct Base {
    group: Option<String>,
    action: Action,
    direction: Direction,
    protocol: Option<String>,
    from_port: Option<i64>,
    to_port: Option<i64>,
}

impl Base {
    fn with_peer(
        &self,
        peer: Option<String>,
        peer_kind: &'static str,
        exposure: Exposure,
    ) -> SgChange {
        SgChange {
            group: self.group.clone(),
            action: self.action,
            direction: self.direction,
            protocol: self.protocol.clone(),
            from_port: self.from_port,
            to_port: self.to_port,
            peer,
            peer_kind,
            exposure,
        }
    }

    fn cidr(&self, cidr: String) -> SgChange {
        let exposure = cidr_exposure(&cidr);
        self.with_peer(Some(cidr), "cidr", exposure)
    }
}

/// The normalised change list of a security-group call; empty for any other call.
#[must_use]
pub fn security_group_changes(record: &Record<'_>) -> Vec<SgChange> {
    let Some(name) = record.str(fields::EVENT_NAME) else { return Vec::new() };
    let Some(params) = record.value(fields::REQUEST_PARAMETERS) else { return Vec::new() };
    let (action, direction) = match name.as_ref() {
        "AuthorizeSecurityGroupIngress" => (Action::Grant, Direction::Ingress),
        "AuthorizeSecurityGroupEgress" => (Action::Grant, Direction::Egress),
        "RevokeSecurityGroupIngress" => (Action::Revoke, Direction::Ingress),
        "RevokeSecurityGroupEgress" => (Action::Revoke, Direction::Egress),
        "ModifySecurityGroupRules" => return modify_rules_changes(params),
        "AuthorizeDBSecurityGroupIngress"
        | "AuthorizeCacheSecurityGroupIngress"
        | "AuthorizeClusterSecurityGroupIngress" => {
            return legacy_service_changes(params, Action::Grant)
        }
        "RevokeDBSecurityGroupIngress"
        | "RevokeCacheSecurityGroupIngress"
        | "RevokeClusterSecurityGroupIngress" => {
            return legacy_service_changes(params, Action::Revoke)
        }
        _ => return Vec::new(),
    };
    ec2_changes(params, action, direction)
}

fn ec2_changes(params: &Value, action: Action, direction: Direction) -> Vec<SgChange> {
    let group = text(params, "groupId").or_else(|| text(params, "groupName"));
    let mut changes = Vec::new();
    for perm in items(get_ci(params, "ipPermissions")) {
        let base = Base {
            group: group.clone(),
            action,
            direction,
            protocol: text(perm, "ipProtocol"),
            from_port: number(perm, "fromPort"),
            to_port: number(perm, "toPort"),
        };
        for range in items(get_ci(perm, "ipRanges")) {
            changes.extend(text(range, "cidrIp").map(|c| base.cidr(c)));
        }
        for range in items(get_ci(perm, "ipv6Ranges")) {
            changes.extend(text(range, "cidrIpv6").map(|c| base.cidr(c)));
        }
        for list in items(get_ci(perm, "prefixListIds")) {
            changes.extend(
                text(list, "prefixListId")
                    .map(|p| base.with_peer(Some(p), "prefix_list", Exposure::Specific)),
            );
        }
        for pair in items(get_ci(perm, "groups")) {
            let peer = text(pair, "groupId").or_else(|| text(pair, "groupName"));
            changes.push(base.with_peer(peer, "group", Exposure::Private));
        }
    }
    // The legacy request shape: one rule in top-level parameters (the CLI's --cidr/--port).
    let base = Base {
        group,
        action,
        direction,
        protocol: text(params, "ipProtocol"),
        from_port: number(params, "fromPort"),
        to_port: number(params, "toPort"),
    };
    if let Some(cidr) = text(params, "cidrIp") {
        changes.push(base.cidr(cidr));
    }
    if let Some(peer) = text(params, "sourceSecurityGroupName") {
        changes.push(base.with_peer(Some(peer), "group", Exposure::Private));
    }
    changes
}

fn modify_rules_changes(params: &Value) -> Vec<SgChange> {
    let request = get_ci(params, "ModifySecurityGroupRulesRequest").unwrap_or(params);
    let group = text(request, "GroupId");
    let rules: Vec<&Value> = match get_ci(request, "SecurityGroupRule") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    };
    rules
        .into_iter()
        .filter_map(|wrapper| {
            let rule = get_ci(wrapper, "SecurityGroupRule").unwrap_or(wrapper);
            let base = Base {
                group: group.clone(),
                action: Action::Modify,
                direction: Direction::Unspecified,
                protocol: text(rule, "IpProtocol"),
                from_port: number(rule, "FromPort"),
                to_port: number(rule, "ToPort"),
            };
            let cidr = text(rule, "CidrIpv4").or_else(|| text(rule, "CidrIpv6"));
            if let Some(cidr) = cidr {
                return Some(base.cidr(cidr));
            }
            if let Some(list) = text(rule, "PrefixListId") {
                return Some(base.with_peer(Some(list), "prefix_list", Exposure::Specific));
            }
            text(rule, "ReferencedGroupId")
                .map(|g| base.with_peer(Some(g), "group", Exposure::Private))
        })
        .collect()
}

/// RDS, ElastiCache and Redshift (EC2-Classic era) security groups: ingress only, no ports.
fn legacy_service_changes(params: &Value, action: Action) -> Vec<SgChange> {
    let group = ["dBSecurityGroupName", "cacheSecurityGroupName", "clusterSecurityGroupName"]
        .iter()
        .find_map(|k| text(params, k));
    let base = Base {
        group,
        action,
        direction: Direction::Ingress,
        protocol: None,
        from_port: None,
        to_port: None,
    };
    let mut changes = Vec::new();
    if let Some(cidr) = text(params, "cIDRIP") {
        changes.push(base.cidr(cidr));
    }
    let peer_group =
        text(params, "eC2SecurityGroupId").or_else(|| text(params, "eC2SecurityGroupName"));
    if let Some(peer) = peer_group {
        let owner = text(params, "eC2SecurityGroupOwnerId");
        let peer = owner.map_or_else(|| peer.clone(), |o| format!("{o}/{peer}"));
        changes.push(base.with_peer(Some(peer), "group", Exposure::Private));
    }
    changes
}

/// The caller, as DESIGN.md's output contract names it.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Actor {
    /// `userIdentity.type`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `userIdentity.arn`.
    pub arn: Option<String>,
    /// `userIdentity.accountId`.
    pub account_id: Option<String>,
    /// `userIdentity.principalId`.
    pub principal_id: Option<String>,
    /// `userIdentity.sessionContext.sessionIssuer.arn`: the role behind an assumed-role session.
    pub session_issuer_arn: Option<String>,
    /// `userIdentity.accessKeyId`.
    pub access_key_id: Option<String>,
}

/// Reads the caller from `userIdentity`, from its raw text: every signal carries an actor,
/// and building `userIdentity`'s DOM for it cost more than the rest of the signal.
#[must_use]
pub fn actor(record: &Record<'_>) -> Actor {
    let Some(identity) = record.raw(fields::USER_IDENTITY).map(RawValue::get) else {
        return Actor::default();
    };
    // An object (always, in CloudTrail) is read into its members once for all six look-ups.
    let members = identity
        .starts_with('{')
        .then(|| serde_json::from_str::<TopLevel<'_>>(identity).ok())
        .flatten();
    let text = |path: &[&str]| match (&members, path.split_first()) {
        (Some(TopLevel(members, _)), Some((key, rest))) => first_text_in(members, key, rest),
        _ => first_text_raw(identity, path),
    };
    Actor {
        kind: text(&["type"]),
        arn: text(&["arn"]),
        account_id: text(&["accountId"]),
        principal_id: text(&["principalId"]),
        session_issuer_arn: text(&["sessionContext", "sessionIssuer", "arn"]),
        access_key_id: text(&["accessKeyId"]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::OwnedRecord;
    use serde_json::json;

    /// `userIdentity` trees with the actor's keys in several cases, repeated, nested and in
    /// arrays, and values of every JSON kind.
    fn identity() -> impl proptest::strategy::Strategy<Value = Value> {
        crate::arbitrary::json_tree(
            vec![
                "type",
                "Type",
                "TYPE",
                "arn",
                "ARN",
                "accountId",
                "principalId",
                "sessionContext",
                "SessionContext",
                "sessionIssuer",
                "accessKeyId",
                "other",
            ],
            vec!["AssumedRole", "", "arn:aws:iam::123456789012:role/r", "a\"b", "\u{1}"],
        )
    }

    proptest::proptest! {
        #[test]
        fn the_actor_read_from_raw_text_is_the_actor_read_from_the_dom(identity in identity()) {
            let record = json!({"eventName": "X", "userIdentity": identity});
            let owned = OwnedRecord::from_value(&record).expect("object");
            let dom = |path: &str| crate::path::first_text(&record["userIdentity"], path);
            let expected = Actor { kind: dom("type"), arn: dom("arn"), account_id: dom("accountId"), principal_id: dom("principalId"),
                session_issuer_arn: dom("sessionContext.sessionIssuer.arn"), access_key_id: dom("accessKeyId") };
            proptest::prop_assert_eq!(actor(&owned.record().expect("object")), expected);
        }
    }

    #[test]
    fn repeated_and_differently_cased_keys_read_as_the_dom_reads_them() {
        let raw = r#"{"eventName": "X", "userIdentity": {"ARN": "upper", "Arn": "mixed", "type": "first", "type": "last"}}"#;
        let owned = OwnedRecord::from_value(&serde_json::from_str::<Value>(raw).expect("json"))
            .expect("object");
        let from_raw = crate::record::Record::parse(raw).expect("object");
        let (a, b) = (actor(&from_raw), actor(&owned.record().expect("object")));
        assert_eq!(a, b);
        assert_eq!((a.arn.as_deref(), a.kind.as_deref()), (Some("upper"), Some("last")));
    }

    fn changes(record: &Value) -> Vec<SgChange> {
        let owned = OwnedRecord::from_value(record).expect("object");
        security_group_changes(&owned.record().expect("object"))
    }

    #[test]
    fn ip_permissions_items_give_one_change_per_peer() {
        let c = changes(
            &json!({"eventName": "AuthorizeSecurityGroupIngress", "requestParameters": {
            "groupId": "sg-1", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
                "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}, {"cidrIp": "10.0.0.0/8"}]},
                "ipv6Ranges": {"items": [{"cidrIpv6": "::/0"}]},
                "prefixListIds": {"items": [{"prefixListId": "pl-1"}]},
                "groups": {"items": [{"groupId": "sg-2"}]}}]}}}),
        );
        let exposures: Vec<_> =
            c.iter().map(|c| (c.peer.clone().unwrap_or_default(), c.exposure)).collect();
        assert_eq!(
            exposures,
            vec![
                ("0.0.0.0/0".to_owned(), Exposure::World),
                ("10.0.0.0/8".to_owned(), Exposure::Private),
                ("::/0".to_owned(), Exposure::World),
                ("pl-1".to_owned(), Exposure::Specific),
                ("sg-2".to_owned(), Exposure::Private),
            ]
        );
        assert!(c
            .iter()
            .all(|c| c.group.as_deref() == Some("sg-1") && c.direction == Direction::Ingress));
        assert!(c[0].covers_port(22) && !c[0].covers_port(3389));
    }

    #[test]
    fn legacy_top_level_shape_with_any_zero_prefix_is_world() {
        let c =
            changes(&json!({"eventName": "AuthorizeSecurityGroupIngress", "requestParameters": {
            "groupId": "sg-1", "cidrIp": "208.236.235.254/0", "fromPort": 22, "toPort": 22,
            "ipProtocol": "tcp", "ipPermissions": {}}}));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].exposure, Exposure::World);
        assert_eq!((c[0].from_port, c[0].to_port), (Some(22), Some(22)));
    }

    #[test]
    fn modify_security_group_rules_shape() {
        let c = changes(&json!({"eventName": "ModifySecurityGroupRules", "requestParameters": {
            "ModifySecurityGroupRulesRequest": {"GroupId": "sg-9", "SecurityGroupRule": {
                "SecurityGroupRuleId": "sgr-1", "SecurityGroupRule": {"IpProtocol": "tcp",
                "FromPort": 3389, "ToPort": 3389, "CidrIpv4": "0.0.0.0/0"}}}}}));
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].group.as_deref(), c[0].action, c[0].exposure),
            (Some("sg-9"), Action::Modify, Exposure::World)
        );
        assert!(c[0].covers_port(3389));
    }

    #[test]
    fn rds_ingress_has_no_ports_and_covers_everything() {
        let c =
            changes(&json!({"eventName": "AuthorizeDBSecurityGroupIngress", "requestParameters": {
            "dBSecurityGroupName": "db-sg", "cIDRIP": "0.0.0.0/0"}}));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].group.as_deref(), Some("db-sg"));
        assert!(c[0].covers_port(5432));
    }

    #[test]
    fn revokes_do_not_open() {
        let c = changes(&json!({"eventName": "RevokeSecurityGroupIngress", "requestParameters": {
            "groupId": "sg-1", "cidrIp": "0.0.0.0/0", "ipProtocol": "-1"}}));
        assert!(!c[0].opens());
    }
}
