//! Every front-end's optimised IR means what its unoptimised IR means: the corpus rules
//! (Sigma, Elastic, Panther) lowered both ways agree on generated records built from the
//! rules' own literals, so the records actually reach the conditions.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{json, Value};
use tripline_engine::naive;
use tripline_event::OwnedRecord;
use tripline_lang::Options;
use tripline_rule::{Expr, Literal, Rule, Test};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
}

fn files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in [
        "sigma/rules_cloud_aws_cloudtrail",
        "elastic-rules/rules/integrations/aws",
        "panther/simple-detections",
    ] {
        for entry in std::fs::read_dir(corpus().join(dir)).expect("the corpus is present").flatten()
        {
            out.push(entry.path());
        }
    }
    out.sort();
    out
}

/// (optimised, unoptimised) pairs of every loadable corpus rule, and the literals they use.
type Corpus = (Vec<(Rule, Rule)>, Vec<String>);

fn rules() -> &'static Corpus {
    static RULES: OnceLock<Corpus> = OnceLock::new();
    RULES.get_or_init(|| {
        let raw = Options { optimise: false, ..Options::default() };
        let mut pairs = Vec::new();
        let mut literals = BTreeSet::new();
        for path in files() {
            let text = std::fs::read_to_string(&path).expect("readable");
            let optimised = tripline_lang::compile(&path, &text, &Options::default()).rules;
            let unoptimised = tripline_lang::compile(&path, &text, &raw).rules;
            assert_eq!(optimised.len(), unoptimised.len(), "{}", path.display());
            for rule in &optimised {
                for p in rule.condition().predicates() {
                    if let Test::Equals(lits, _) = &p.test {
                        literals.extend(lits.iter().filter_map(|l| {
                            if let Literal::Str(s) = l {
                                Some(s.clone())
                            } else {
                                None
                            }
                        }));
                    }
                }
            }
            pairs.extend(optimised.into_iter().zip(unoptimised));
        }
        (pairs, literals.into_iter().collect())
    })
}

fn record() -> impl Strategy<Value = Value> {
    let literals = rules().1.clone();
    let pick = move || prop::sample::select(literals.clone());
    (pick(), pick(), pick(), pick(), prop::option::of(pick()), any::<bool>(), pick())
        .prop_map(|(name, source, kind, agent, error, read_only, extra)| {
            let mut r = json!({
                "eventVersion": "1.09", "eventName": name, "eventSource": source, "eventTime": "2024-08-01T10:00:00Z",
                "userIdentity": {"type": kind, "arn": format!("arn:aws:iam::111122223333:user/{extra}"), "accountId": "111122223333"},
                "sourceIPAddress": "198.51.100.7", "userAgent": agent, "readOnly": read_only, "eventType": "AwsApiCall",
                "requestParameters": {"name": extra, "enable": read_only}, "recipientAccountId": "111122223333",
            });
            if let Some(e) = error {
                r["errorCode"] = json!(e);
            }
            r
        })
}

fn evaluate(expr: &Expr, record: &Value) -> bool {
    let owned = OwnedRecord::from_value(record).expect("object");
    naive::evaluate(expr, &owned.record().expect("object"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn optimised_and_unoptimised_corpus_ir_agree(records in prop::collection::vec(record(), 1..16)) {
        let (pairs, _) = rules();
        prop_assert!(pairs.len() > 200);
        for (optimised, unoptimised) in pairs {
            for r in &records {
                prop_assert_eq!(evaluate(optimised.condition(), r), evaluate(unoptimised.condition(), r), "{}", optimised.meta.id);
            }
        }
    }
}
