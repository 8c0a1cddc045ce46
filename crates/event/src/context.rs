//! The context a responder needs, read from one record: the normalised security-group change
//! list and the indicators (ARNs, IP addresses, account ids) found anywhere in the record.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;
use serde_json::Value;

use crate::fields;
use crate::path::{first_text, scalar_text};
use crate::record::Record;

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
            (Some(from), Some(to)) if from >= 0 && to >= 0 => (from..=to).contains(&i64::from(port)),
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
        IpAddr::V4(v4) => v4.is_private() || v4.is_loopback() || v4.is_link_local() || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64,
        IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00 || (v6.segments()[0] & 0xffc0) == 0xfe80,
    };
    if private { Exposure::Private } else { Exposure::Specific }
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
    fn with_peer(&self, peer: Option<String>, peer_kind: &'static str, exposure: Exposure) -> SgChange {
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
        "AuthorizeDBSecurityGroupIngress" | "AuthorizeCacheSecurityGroupIngress" | "AuthorizeClusterSecurityGroupIngress" => {
            return legacy_service_changes(params, Action::Grant)
        }
        "RevokeDBSecurityGroupIngress" | "RevokeCacheSecurityGroupIngress" | "RevokeClusterSecurityGroupIngress" => {
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
            changes.extend(text(list, "prefixListId").map(|p| base.with_peer(Some(p), "prefix_list", Exposure::Specific)));
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
            text(rule, "ReferencedGroupId").map(|g| base.with_peer(Some(g), "group", Exposure::Private))
        })
        .collect()
}

/// RDS, ElastiCache and Redshift (EC2-Classic era) security groups: ingress only, no ports.
fn legacy_service_changes(params: &Value, action: Action) -> Vec<SgChange> {
    let group = ["dBSecurityGroupName", "cacheSecurityGroupName", "clusterSecurityGroupName"]
        .iter()
        .find_map(|k| text(params, k));
    let base = Base { group, action, direction: Direction::Ingress, protocol: None, from_port: None, to_port: None };
    let mut changes = Vec::new();
    if let Some(cidr) = text(params, "cIDRIP") {
        changes.push(base.cidr(cidr));
    }
    let peer_group = text(params, "eC2SecurityGroupId").or_else(|| text(params, "eC2SecurityGroupName"));
    if let Some(peer) = peer_group {
        let owner = text(params, "eC2SecurityGroupOwnerId");
        let peer = owner.map_or_else(|| peer.clone(), |o| format!("{o}/{peer}"));
        changes.push(base.with_peer(Some(peer), "group", Exposure::Private));
    }
    changes
}

/// Indicators found anywhere in a record.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Indicators {
    /// Every ARN, sorted.
    pub arns: BTreeSet<String>,
    /// Every IP address (not CIDR), sorted.
    pub ips: BTreeSet<String>,
    /// Every 12-digit AWS account id, sorted.
    pub account_ids: BTreeSet<String>,
}

/// Walks a whole record for ARNs, IP addresses and account ids, streaming over its raw text:
/// no DOM is built, and only the indicators found are copied.
#[must_use]
pub fn record_indicators(record: &Record<'_>) -> Indicators {
    let mut found = Indicators::default();
    for key in record.keys() {
        if let Some(raw) = record.raw(key) {
            let mut de = serde_json::Deserializer::from_str(raw.get());
            let walker = StringWalker { key: Some(key), on: &mut |k: Option<&str>, s: &str| classify(k, s, &mut found) };
            // The text was validated when the record was read.
            let _ = serde::de::DeserializeSeed::deserialize(walker, &mut de);
        }
    }
    found
}

/// Calls `on` with every string in a JSON value and the key it sits under.
struct StringWalker<'k, 'f> {
    key: Option<&'k str>,
    on: &'f mut dyn FnMut(Option<&str>, &str),
}

impl<'de> serde::de::DeserializeSeed<'de> for StringWalker<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for StringWalker<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        (self.on)(self.key, v);
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(crate::record::Key(key)) = map.next_key::<crate::record::Key<'de>>()? {
            map.next_value_seed(StringWalker { key: Some(&key), on: &mut *self.on })?;
        }
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(StringWalker { key: self.key, on: &mut *self.on })?.is_some() {}
        Ok(())
    }
    ignore_scalars!();
}

/// Walks a whole record for ARNs, IP addresses and account ids.
#[must_use]
pub fn indicators(record: &Value) -> Indicators {
    let mut found = Indicators::default();
    collect_indicators(record, None, &mut found);
    found
}

fn collect_indicators(value: &Value, key: Option<&str>, found: &mut Indicators) {
    walk_strings(value, key, &mut |key, s| classify(key, s, found));
}

/// Files one string under the indicators it is.
fn classify(key: Option<&str>, s: &str, found: &mut Indicators) {
    if s.starts_with("arn:") && s.split(':').count() >= 6 {
        let mut parts = s.split(':');
        if let Some(account) = parts.nth(4).filter(|a| is_account_id(a)) {
            insert(&mut found.account_ids, account);
        }
        insert(&mut found.arns, s);
    } else if looks_like_ip(s) && s.parse::<IpAddr>().is_ok() {
        insert(&mut found.ips, s);
    } else if is_account_id(s) && key.is_some_and(|k| k.as_bytes().windows(7).any(|w| w.eq_ignore_ascii_case(b"account"))) {
        insert(&mut found.account_ids, s);
    }
}

/// Adds `s` unless present (records repeat the same ARN many times: no copy for those).
fn insert(set: &mut BTreeSet<String>, s: &str) {
    if !set.contains(s) {
        set.insert(s.to_owned());
    }
}

/// A cheap pre-check before parsing: an IPv6 address has a `:` and only hex digits, `:` and
/// `.`; an IPv4 address only digits and three dots.
fn looks_like_ip(s: &str) -> bool {
    if !(2..=45).contains(&s.len()) {
        return false;
    }
    let bytes = s.as_bytes();
    if bytes.contains(&b':') {
        bytes.iter().all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    } else {
        bytes.iter().all(|&b| b.is_ascii_digit() || b == b'.') && bytes.iter().filter(|&&b| b == b'.').count() == 3
    }
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn walk_strings(value: &Value, key: Option<&str>, f: &mut dyn FnMut(Option<&str>, &str)) {
    match value {
        Value::String(s) => f(key, s),
        Value::Array(items) => items.iter().for_each(|v| walk_strings(v, key, f)),
        Value::Object(map) => map.iter().for_each(|(k, v)| walk_strings(v, Some(k), f)),
        _ => {}
    }
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

/// Reads the caller from `userIdentity`.
#[must_use]
pub fn actor(record: &Record<'_>) -> Actor {
    let Some(identity) = record.value(fields::USER_IDENTITY) else { return Actor::default() };
    Actor {
        kind: first_text(identity, "type"),
        arn: first_text(identity, "arn"),
        account_id: first_text(identity, "accountId"),
        principal_id: first_text(identity, "principalId"),
        session_issuer_arn: first_text(identity, "sessionContext.sessionIssuer.arn"),
        access_key_id: first_text(identity, "accessKeyId"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::OwnedRecord;
    use serde_json::json;

    #[test]
    fn the_ip_pre_check_keeps_every_address_form_and_skips_the_rest() {
        for ip in ["10.0.0.1", "203.0.113.250", "::1", "2001:db8::1", "fe80::1ff:fe23:4567:890a", "::ffff:192.0.2.1"] {
            assert!(looks_like_ip(ip) && ip.parse::<IpAddr>().is_ok(), "{ip}");
        }
        for not_ip in ["2024-08-01T10:00:00Z", "ec2.amazonaws.com", "1.2.3", "deadbeef", "AWS Internal", "a"] {
            assert!(!looks_like_ip(not_ip), "{not_ip}");
        }
    }

    fn changes(record: &Value) -> Vec<SgChange> {
        let owned = OwnedRecord::from_value(record).expect("object");
        security_group_changes(&owned.record().expect("object"))
    }

    #[test]
    fn ip_permissions_items_give_one_change_per_peer() {
        let c = changes(&json!({"eventName": "AuthorizeSecurityGroupIngress", "requestParameters": {
            "groupId": "sg-1", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
                "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}, {"cidrIp": "10.0.0.0/8"}]},
                "ipv6Ranges": {"items": [{"cidrIpv6": "::/0"}]},
                "prefixListIds": {"items": [{"prefixListId": "pl-1"}]},
                "groups": {"items": [{"groupId": "sg-2"}]}}]}}}));
        let exposures: Vec<_> = c.iter().map(|c| (c.peer.clone().unwrap_or_default(), c.exposure)).collect();
        assert_eq!(exposures, vec![
            ("0.0.0.0/0".to_owned(), Exposure::World),
            ("10.0.0.0/8".to_owned(), Exposure::Private),
            ("::/0".to_owned(), Exposure::World),
            ("pl-1".to_owned(), Exposure::Specific),
            ("sg-2".to_owned(), Exposure::Private),
        ]);
        assert!(c.iter().all(|c| c.group.as_deref() == Some("sg-1") && c.direction == Direction::Ingress));
        assert!(c[0].covers_port(22) && !c[0].covers_port(3389));
    }

    #[test]
    fn legacy_top_level_shape_with_any_zero_prefix_is_world() {
        let c = changes(&json!({"eventName": "AuthorizeSecurityGroupIngress", "requestParameters": {
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
        assert_eq!((c[0].group.as_deref(), c[0].action, c[0].exposure), (Some("sg-9"), Action::Modify, Exposure::World));
        assert!(c[0].covers_port(3389));
    }

    #[test]
    fn rds_ingress_has_no_ports_and_covers_everything() {
        let c = changes(&json!({"eventName": "AuthorizeDBSecurityGroupIngress", "requestParameters": {
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

    #[test]
    fn streaming_and_dom_indicators_agree() {
        let value = json!({"userIdentity": {"arn": "arn:aws:iam::123456789012:user/a", "accountId": "123456789012"},
            "sourceIPAddress": "203.0.113.9", "resources": [{"ARN": "arn:aws:s3:::b", "accountId": "210987654321"}],
            "requestParameters": {"cidr": "10.0.0.1", "n": 5, "nested": [["::1"]]}});
        let owned = OwnedRecord::from_value(&value).expect("object");
        assert_eq!(record_indicators(&owned.record().expect("object")), indicators(&value));
    }

    #[test]
    fn indicators_find_arns_ips_and_accounts() {
        let found = indicators(&json!({"userIdentity": {"arn": "arn:aws:iam::123456789012:user/a"},
            "sourceIPAddress": "203.0.113.9", "recipientAccountId": "210987654321", "eventID": "123456789012"}));
        assert!(found.arns.contains("arn:aws:iam::123456789012:user/a"));
        assert!(found.ips.contains("203.0.113.9"));
        assert_eq!(found.account_ids.iter().cloned().collect::<Vec<_>>(), vec!["123456789012", "210987654321"]);
    }
}
