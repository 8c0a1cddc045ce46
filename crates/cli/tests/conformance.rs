//! The CLI over the third-party corpus in `../shared/corpus` (run by `scripts/conformance.sh`):
//! whole vendor collections loaded as they are, next to the built-in pack.

mod common;

use common::{jsonl, tripline};

#[test]
fn sigma_rules_load_beside_native_ones_and_show_their_ir() {
    let corpus = "../shared/corpus/sigma/rules_cloud_aws_cloudtrail";
    let list = tripline(&["rules", "list", "--rules", corpus, "--format", "jsonl"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let rules = jsonl(&list.stdout);
    assert_eq!(rules.len(), 17 + 57);
    let sigma = rules
        .iter()
        .find(|r| r["id"] == "055fb148-60f8-462d-ad16-26926ce050f1")
        .expect("aws_update_login_profile");
    assert_eq!(sigma["severity"], "high");
    assert!(sigma["origin"].as_str().is_some_and(|o| o.starts_with("Sigma")));
    let ir = tripline(&[
        "rules",
        "show",
        "055fb148-60f8-462d-ad16-26926ce050f1",
        "--rules",
        corpus,
        "--ir",
    ]);
    assert_eq!(ir.code, 0);
    assert!(
        ir.stdout.contains(
            "userIdentity.arn == field requestParameters.userName    [path userIdentity.arn]"
        ),
        "{}",
        ir.stdout
    );
}

#[test]
fn unsupported_sigma_rules_are_refused_with_a_reason_each() {
    let run = tripline(&[
        "rules",
        "list",
        "--no-builtin",
        "--rules",
        "../shared/corpus/sigma/unsupported",
        "-v",
    ]);
    assert_eq!(run.code, 0, "unsupported rules are reported and counted, not errors");
    assert_eq!(
        run.stderr.lines().filter(|l| l.contains(": unsupported: ")).count(),
        8,
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("8 unsupported, 0 file(s) refused"), "{}", run.stderr);
}

#[test]
fn a_given_rule_replaces_the_builtin_of_the_same_id_unless_it_cannot_run() {
    let elastic = "../shared/corpus/elastic-rules/rules/integrations/aws/persistence_ec2_security_group_configuration_change_detection.toml";
    let run =
        tripline(&["rules", "show", "29052c19-ff3e-42fd-8363-7be14d7c5469", "--rules", elastic]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("replaces the built-in rule of the same id"), "{}", run.stderr);
    assert!(
        run.stdout.contains(elastic),
        "the shown rule comes from the given file:\n{}",
        run.stdout
    );
    let python = "../shared/corpus/panther/rules/aws_ec2_security_group_modified.yml";
    let kept = tripline(&["rules", "show", "AWS.EC2.SecurityGroupModified", "--rules", python]);
    assert!(
        kept.stderr.contains("the built-in rule is kept because this copy never runs"),
        "{}",
        kept.stderr
    );
    assert!(
        kept.stdout.contains("rules/seeds/panther-aws-ec2-security-group-modified.yml"),
        "{}",
        kept.stdout
    );
}
