//! Sigma's ATT&CK tags (`attack.t1078.004`, `attack.persistence`) as ATT&CK ids.

/// The ATT&CK ids in a rule's tags, in order, without duplicates. Tags naming tactics this
/// table does not know (newer ATT&CK names such as `attack.stealth`) stay tags only.
#[must_use]
pub fn mitre_ids(tags: &[String]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for tag in tags {
        let Some(rest) = tag.to_ascii_lowercase().strip_prefix("attack.").map(str::to_owned) else {
            continue;
        };
        let id = if let Some(tech) =
            rest.strip_prefix('t').filter(|t| t.chars().next().is_some_and(|c| c.is_ascii_digit()))
        {
            Some(format!("T{}", tech.to_ascii_uppercase()))
        } else {
            tripline_rule::attack::tactic_id(&rest).map(str::to_owned)
        };
        if let Some(id) = id.filter(|id| crate::native::is_attack_id(id) && !ids.contains(id)) {
            ids.push(id);
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_become_tactic_and_technique_ids() {
        let tags: Vec<String> = [
            "attack.persistence",
            "attack.t1078.004",
            "attack.stealth",
            "attack.g0016",
            "cve.2024",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        assert_eq!(mitre_ids(&tags), vec!["TA0003", "T1078.004"]);
    }
}
