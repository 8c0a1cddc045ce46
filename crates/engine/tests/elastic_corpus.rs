//! Elastic's AWS rules from the corpus, loading as they are, and the deprecated seeds' TOML
//! agreeing with the built-in pack's reproductions of them.

mod common;

use std::path::{Path, PathBuf};

use tripline_engine::naive;
use tripline_event::OwnedRecord;
use tripline_lang::{Level, Options};

fn corpus(dir: &str) -> PathBuf {
    common::corpus("elastic-rules/rules").join(dir)
}

#[test]
fn every_kuery_rule_in_the_aws_integration_loads() {
    let dir = corpus("integrations/aws");
    let (mut loaded, mut unsupported) = (0, 0);
    for entry in std::fs::read_dir(&dir).expect("the corpus is present").flatten() {
        let path = entry.path();
        let text = std::fs::read_to_string(&path).expect("readable");
        let result = tripline_lang::compile(&path, &text, &Options::default());
        assert!(!result.has_errors(), "{}: {:?}", path.display(), result.diagnostics);
        let is_kuery = text.contains("language = \"kuery\"");
        if is_kuery {
            assert_eq!(result.rules.len(), 1, "{}", path.display());
            loaded += 1;
        } else {
            assert_eq!(result.diagnostics.len(), 1, "{}", path.display());
            assert_eq!(result.diagnostics[0].level, Level::Unsupported);
            unsupported += 1;
        }
    }
    assert_eq!((loaded, unsupported), (139, 55));
}

#[test]
fn the_deprecated_seed_rules_agree_with_the_builtin_reproductions() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for (toml, native) in [
        (
            "_deprecated/defense_evasion_elasticache_security_group_creation.toml",
            "rules/seeds/elastic-7b3da11a-60a2-412e-8aa7-011e1eb9ed47.yml",
        ),
        (
            "_deprecated/persistence_rds_group_creation.toml",
            "rules/seeds/elastic-378f9024-8a0c-46a5-aa08-ce147ac73a4e.yml",
        ),
    ] {
        let toml_path = corpus(toml);
        let from_elastic = tripline_lang::compile(
            &toml_path,
            &std::fs::read_to_string(&toml_path).expect("readable"),
            &Options::default(),
        );
        let native_path = workspace.join(native);
        let from_native = tripline_lang::compile(
            &native_path,
            &std::fs::read_to_string(&native_path).expect("readable"),
            &Options::default(),
        );
        let (e, n) = (&from_elastic.rules[0], &from_native.rules[0]);
        assert_eq!(e.meta.id, n.meta.id);
        assert_eq!((e.meta.severity, e.meta.risk_score()), (n.meta.severity, n.meta.risk_score()));
        assert!(!n.tests.is_empty());
        for case in &n.tests {
            let owned = OwnedRecord::from_value(&case.log).expect("object");
            let rec = owned.record().expect("object");
            assert_eq!(
                naive::evaluate(e.condition(), &rec),
                case.expected,
                "{toml}: {}",
                case.name
            );
        }
    }
}
