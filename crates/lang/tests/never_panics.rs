//! No rule file makes a front-end panic: generated Sigma, native, Elastic (TOML with KQL) and
//! Panther files, from fragments that steer towards the shapes each reads — nesting, aliases,
//! modifiers, wildcards, odd types — always give rules or diagnostics, never a crash.

use std::path::Path;

use proptest::prelude::*;
use tripline_lang::{compile, Options};

/// Lines of a Sigma or native detection, any order, any indentation.
const YAML_PIECES: &[&str] = &[
    "title: t\n",
    "id: x\n",
    "severity: high\n",
    "level: critical\n",
    "logsource:\n  product: aws\n  service: cloudtrail\n",
    "detection:\n",
    "  sel:\n",
    "  sel: &a {eventName: X}\n",
    "  other: *a\n",
    "    eventName: CreateSecurityGroup\n",
    "    eventName|contains|all:\n",
    "      - a\n",
    "      - '*?\\\\*'\n",
    "    requestParameters.ipPermissions.items.fromPort|lte: 22\n",
    "    sourceIPAddress|cidr: 10.0.0.0/8\n",
    "    userAgent|re: '(a|b'\n",
    "    userAgent|re|i: '^x.*$'\n",
    "    errorCode: null\n",
    "    '|': [1, [2], {a: 3}]\n",
    "  condition: sel\n",
    "  condition: 1 of sel* and not (other or sel)\n",
    "  condition: ((((sel)\n",
    "  condition: all of them |\n",
    "  keywords: [a, 'b*', 7]\n",
    "tests:\n  - name: t\n    match: true\n    record: {eventName: X}\n",
    "correlation:\n  type: event_count\n  rules: [x]\n  group-by: [a]\n  timespan: 1h\n  condition: {gte: 2}\n",
    "---\n",
    "\t",
    "- \n",
    "  ",
    "\"\\u00e9\": [\n",
    "[[[[[[[[\n",
];

/// Lines of an Elastic rule, in TOML, with KQL fragments for its query.
const TOML_PIECES: &[&str] = &[
    "[metadata]\ncreation_date = \"2020/01/01\"\n",
    "[rule]\n",
    "name = \"n\"\n",
    "rule_id = \"r\"\n",
    "description = \"d\"\n",
    "risk_score = 47\n",
    "severity = \"medium\"\n",
    "severity = \"loud\"\n",
    "type = \"query\"\n",
    "type = \"threshold\"\n",
    "type = \"new_terms\"\n",
    "language = \"kuery\"\n",
    "index = [\"filebeat-*\"]\n",
    "query = '''\n",
    "event.dataset:aws.cloudtrail ",
    "and ",
    "or ",
    "not ",
    "(",
    ")",
    "event.action:(A or B) ",
    "source.ip:10.0.0.0/8 ",
    "a:{ b:c } ",
    "x >= 1 ",
    "\"quoted ",
    "*wild?card* ",
    "\n'''\n",
    "[rule.threshold]\nfield = [\"user.name\"]\nvalue = 5\n",
    "[[rule.threat]]\nframework = \"MITRE ATT&CK\"\n",
];

fn options() -> Options {
    Options::default()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn generated_yaml_rules_never_panic(pieces in prop::collection::vec(prop::sample::select(YAML_PIECES), 0..40)) {
        let text = pieces.concat();
        for name in ["r.yml", "sigma.yml"] {
            let loaded = compile(Path::new(name), &text, &options());
            // Nothing is dropped unsaid: a file gives rules or says why it gives none.
            prop_assert!(!loaded.rules.is_empty() || !loaded.diagnostics.is_empty(), "{name}: {text:?}");
            for rule in &loaded.rules {
                let _ = tripline_rule::passes::simplify(rule.condition().clone());
            }
        }
    }

    #[test]
    fn generated_elastic_rules_never_panic(pieces in prop::collection::vec(prop::sample::select(TOML_PIECES), 0..40)) {
        let text = pieces.concat();
        let loaded = compile(Path::new("rule.toml"), &text, &options());
        prop_assert!(!loaded.rules.is_empty() || !loaded.diagnostics.is_empty(), "{text:?}");
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        for name in ["r.yml", "r.toml"] {
            let loaded = compile(Path::new(name), &text, &options());
            prop_assert!(!loaded.rules.is_empty() || !loaded.diagnostics.is_empty(), "{name}: {text:?}");
        }
    }
}
