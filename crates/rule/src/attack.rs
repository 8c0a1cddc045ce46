//! ATT&CK's Enterprise tactics: their ids, the names Sigma's tags use, and the names people
//! read (an OCSF finding names its tactics).

/// (id, tag name as Sigma writes it, name).
pub const TACTICS: &[(&str, &str, &str)] = &[
    ("TA0043", "reconnaissance", "Reconnaissance"),
    ("TA0042", "resource-development", "Resource Development"),
    ("TA0001", "initial-access", "Initial Access"),
    ("TA0002", "execution", "Execution"),
    ("TA0003", "persistence", "Persistence"),
    ("TA0004", "privilege-escalation", "Privilege Escalation"),
    ("TA0005", "defense-evasion", "Defense Evasion"),
    ("TA0006", "credential-access", "Credential Access"),
    ("TA0007", "discovery", "Discovery"),
    ("TA0008", "lateral-movement", "Lateral Movement"),
    ("TA0009", "collection", "Collection"),
    ("TA0010", "exfiltration", "Exfiltration"),
    ("TA0011", "command-and-control", "Command and Control"),
    ("TA0040", "impact", "Impact"),
];

/// The id of the tactic Sigma tags `tag` (`defense-evasion` → `TA0005`).
#[must_use]
pub fn tactic_id(tag: &str) -> Option<&'static str> {
    TACTICS.iter().find(|(_, t, _)| *t == tag).map(|(id, _, _)| *id)
}

/// The name of the tactic `id` (`TA0005` → `Defense Evasion`).
#[must_use]
pub fn tactic_name(id: &str) -> Option<&'static str> {
    TACTICS.iter().find(|(i, _, _)| *i == id).map(|(_, _, name)| *name)
}
