#!/usr/bin/env bash
# Conformance: the tests that read the third-party corpus in ../shared/corpus in place — every
# SigmaHQ CloudTrail rule, Elastic's AWS rules, Panther's rules, the IR snapshots of all of them.
# Fails when the corpus is missing: a conformance run that read nothing proves nothing.
#   usage: scripts/conformance.sh [cargo test arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=../shared/corpus
for dir in sigma/rules_cloud_aws_cloudtrail elastic-rules/rules/integrations/aws panther/rules panther/simple-detections; do
  if [ ! -d "$corpus/$dir" ]; then
    echo "conformance: $corpus/$dir is missing: the third-party corpus must sit beside the project (see README, Testing)" >&2
    exit 1
  fi
done
cargo test --locked -p tripline-engine --features conformance \
  --test sigma_corpus --test optimised_ir --test elastic_corpus --test panther_corpus "$@"
cargo test --locked -p tripline-lang --features conformance --test ir_snapshots "$@"
cargo test --locked -p tripline-cli --features conformance --test conformance "$@"
