#!/usr/bin/env bash
# S3 and queue benchmark against moto's server on 127.0.0.1: the seeded corpus of
# scripts/bench.sh (default 200,000 records in 200 gzipped delivery files) put in a bucket, then
#   1. `tripline scan` of the files on disk,
#   2. `tripline scan s3://…` of the bucket (best of 3 each),
#   3. `tripline enqueue` of the bucket, then one `watch --queue … --until-empty` worker with a
#      new SQLite store draining it,
# each with the CPU seconds the emulator and tripline spent, so the time can be placed.
#   usage: scripts/bench-s3.sh [RECORDS]
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-200000}
corpus=target/bench-corpus-$records
cargo build --release --locked -q -p tripline-cli -p tripline-bench
[ -d "$corpus" ] || ./target/release/tripline-gen write "$corpus" "$records" 1000 7 5
work=$(mktemp -d)
trap 'kill ${moto_pid:-} 2>/dev/null; rm -rf "$work"' EXIT
# shellcheck source=scripts/emulated-bucket.sh
. scripts/emulated-bucket.sh
queue=$(curl -s -X POST -H "$(sign sqs)" -d "Action=CreateQueue&QueueName=bench" "$url/" | sed -n 's|.*<QueueUrl>\(.*\)</QueueUrl>.*|\1|p')
ticks=$(getconf CLK_TCK)
now() { date +%s.%N; }
timed() { # wall seconds, tripline CPU seconds, emulator CPU seconds of one run of "$@"
  local m0 t0 t1 m1 usage
  m0=$(cpu $moto_pid); t0=$(now)
  /usr/bin/time -f "%U %S" -o "$work/time" "$@" >/dev/null 2>/dev/null || true
  usage=$(tail -1 "$work/time")
  t1=$(now); m1=$(cpu $moto_pid)
  awk -v a="$t0" -v b="$t1" -v u="$usage" -v m0="$m0" -v m1="$m1" -v hz="$ticks" 'BEGIN {
    split(u, p, " "); printf "%.3f %.3f %.3f\n", b - a, p[1] + p[2], (m1 - m0) / hz }'
}
best_of_3() { local best="" line; for _ in 1 2 3; do line=$(timed "$@"); if [ -z "$best" ] || awk -v x="$line" -v y="$best" 'BEGIN { split(x,a," "); split(y,b," "); exit !(a[1] < b[1]) }'; then best=$line; fi; done; echo "$best"; }
disk=$(best_of_3 ./target/release/tripline scan "$corpus" --format jsonl -q)
s3=$(best_of_3 ./target/release/tripline scan s3://bench/ --format jsonl -q)
./target/release/tripline enqueue s3://bench/ --queue "$queue" -q
worker=$(timed ./target/release/tripline watch --queue "$queue" --store "$work/alerts.db" --wait 1s --until-empty --format jsonl -q)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
awk -v n="$records" -v d="$disk" -v s="$s3" -v w="$worker" 'BEGIN {
  split(d, a, " "); split(s, b, " "); split(w, c, " ")
  printf "scan of the files on disk:        %.3fs wall  %9.0f records/s  (tripline %.2f CPU s)\n", a[1], n / a[1], a[2]
  printf "scan s3:// of the same, emulated: %.3fs wall  %9.0f records/s  %.2fx disk  (tripline %.2f CPU s, emulator %.2f CPU s)\n", b[1], n / b[1], b[1] / a[1], b[2], b[3]
  printf "queue-fed worker, one process:    %.3fs wall  %9.0f records/s  (tripline %.2f CPU s, emulator %.2f CPU s)\n", c[1], n / c[1], c[2], c[3]
}'
