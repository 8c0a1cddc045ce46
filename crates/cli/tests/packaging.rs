//! The systemd unit kept in `packaging/`: it parses, systemd itself accepts it (where
//! `systemd-analyze` is installed), and the command it starts is one this binary takes.

mod common;

use std::collections::BTreeMap;

use common::workspace;

/// The unit's settings: section → key → values.
fn unit() -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let text = std::fs::read_to_string(workspace().join("packaging/tripline.service"))
        .expect("the unit file");
    let mut sections: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let mut section = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = Some(name.to_owned());
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or_else(|| panic!("line {}: {line}", n + 1));
        let section =
            section.clone().unwrap_or_else(|| panic!("line {}: outside a section", n + 1));
        sections.entry(section).or_default().entry(key.into()).or_default().push(value.into());
    }
    sections
}

#[test]
fn the_unit_runs_the_service_and_drains_it_with_sigterm() {
    let unit = unit();
    let service = &unit["Service"];
    assert_eq!(service["KillSignal"], ["SIGTERM"]);
    let timeout: u64 = service["TimeoutStopSec"][0].parse().expect("seconds");
    assert!(timeout > 20, "longer than a queue's long poll");
    assert_eq!(unit["Install"]["WantedBy"], ["multi-user.target"]);
    let exec = &service["ExecStart"][0];
    let mut words = exec.split_whitespace();
    assert!(words.next().expect("a program").ends_with("/tripline"));
    let mut args: Vec<&str> = words.collect();
    args.push("--help");
    let help = common::tripline(&args);
    assert_eq!(help.code, 0, "`{exec}` is a command this binary takes: {}", help.stderr);
    assert!(help.stdout.contains("--log-format"), "{}", help.stdout);
}

#[test]
fn systemd_accepts_the_unit() {
    let Ok(found) = std::process::Command::new("systemd-analyze").arg("--version").output() else {
        // Not installed here: the parse above is the check.
        return;
    };
    assert!(found.status.success());
    let dir = tempfile::tempdir().expect("temp");
    let text = std::fs::read_to_string(workspace().join("packaging/tripline.service"))
        .expect("the unit file")
        .replace("/usr/local/bin/tripline", env!("CARGO_BIN_EXE_tripline"));
    let copy = dir.path().join("tripline.service");
    std::fs::write(&copy, text).expect("copy");
    let verify = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .expect("systemd-analyze runs");
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}
