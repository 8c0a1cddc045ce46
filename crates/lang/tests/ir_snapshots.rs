//! Snapshots of what the corpus rules become: each rule's lowered IR, one snapshot per
//! front-end. A change in lowering shows up as a reviewable `.snap` diff.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use tripline_lang::Options;

fn corpus(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus").join(dir)
}

fn lowered(dirs: &[&str]) -> String {
    let mut files: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|d| {
            std::fs::read_dir(corpus(d)).expect("the corpus is present").flatten().map(|e| e.path())
        })
        .collect();
    files.sort();
    let mut out = String::new();
    for path in files {
        let loaded = tripline_lang::compile(
            &path,
            &std::fs::read_to_string(&path).expect("readable"),
            &Options::default(),
        );
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for rule in &loaded.rules {
            let _ = writeln!(
                out,
                "## {name} — {} [{}]\n{}",
                rule.meta.id,
                rule.meta.kind,
                rule.condition().tree()
            );
        }
        for d in &loaded.diagnostics {
            let _ = writeln!(out, "## {name} — {:?}: {}\n", d.level, d.message);
        }
    }
    out
}

#[test]
fn sigma_corpus_ir() {
    insta::assert_snapshot!(lowered(&["sigma/rules_cloud_aws_cloudtrail", "sigma/unsupported"]));
}

#[test]
fn elastic_corpus_ir() {
    insta::assert_snapshot!(lowered(&[
        "elastic-rules/rules/integrations/aws",
        "elastic-rules/rules/_deprecated"
    ]));
}

#[test]
fn panther_corpus_ir() {
    insta::assert_snapshot!(lowered(&["panther/simple-detections", "panther/rules"]));
}
