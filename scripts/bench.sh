#!/usr/bin/env bash
# Whole-process benchmark: generates a seeded corpus (default 200,000 records, gzipped delivery
# files), then measures on one core, in one run:
#   1. gunzip alone over the same files with the same decompressor (flate2 + zlib-rs),
#   2. `tripline scan` with the built-in pack (RAYON_NUM_THREADS=1),
#   3. `tripline scan` on all cores,
#   4. `tripline scan --store` with a new SQLite store each run, one core,
#      interleaved with the same scan without a store,
#   5. `tripline scan` with every rule in ../shared/corpus loaded as well, one core,
#   6. `tripline scan` with a webhook output to a local receiver (`tripline-gen receive`),
#      one POST per alert and then batch=100, all cores, each interleaved with the same scan
#      without it,
# and prints records/second and each scan's ratio to gunzip alone. "One core" is the process
# pinned to one CPU (taskset) with one scanning thread: a scan writes its output on a thread
# of its own while it reads, so the thread count alone would not say one core.
#   usage: scripts/bench.sh [RECORDS]
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-200000}
corpus=target/bench-corpus-$records
cargo build --release --locked -q -p tripline-cli -p tripline-bench
if [ ! -d "$corpus" ]; then
  ./target/release/tripline-gen write "$corpus" "$records" 1000 7 5
fi
now() { date +%s.%N; }
best1() { # wall-clock seconds of one run of "$@"
  local t0; t0=$(now); "$@" >/dev/null 2>&1 || [ $? -eq 1 ]; local t1; t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}
best() { # best of 3 wall-clock seconds of "$@"
  local best=999999
  for _ in 1 2 3; do
    local t0; t0=$(now); "$@" >/dev/null 2>&1 || [ $? -eq 1 ]; local t1; t1=$(now)
    best=$(awk -v a="$t0" -v b="$t1" -v m="$best" 'BEGIN { d = b - a; print (d < m) ? d : m }')
  done
  echo "$best"
}
one_core() {
  if command -v taskset >/dev/null; then RAYON_NUM_THREADS=1 taskset -c 0 "$@"; else RAYON_NUM_THREADS=1 "$@"; fi
}
gunzip_s=$(best one_core ./target/release/tripline-gen gunzip "$corpus")
scan1_s=$(best one_core ./target/release/tripline scan "$corpus" --format jsonl -q)
scanN_s=$(best ./target/release/tripline scan "$corpus" --format jsonl -q)
store_dir=$(mktemp -d)
trap 'rm -rf "$store_dir"' EXIT
fresh_store_scan() { rm -f "$store_dir"/alerts.db*; one_core ./target/release/tripline scan "$corpus" --format jsonl -q --store "$store_dir/alerts.db"; }
plain_scan() { one_core ./target/release/tripline scan "$corpus" --format jsonl -q; }
# Two commands interleaved five times, best of each ("A B" seconds), so that a noisy moment
# of the machine does not fall on one side only.
interleaved() {
  local a=999999 b=999999 x y
  for _ in 1 2 3 4 5; do
    x=$(best1 "$1"); y=$(best1 "$2")
    a=$(awk -v t="$x" -v m="$a" 'BEGIN { print (t < m) ? t : m }')
    b=$(awk -v t="$y" -v m="$b" 'BEGIN { print (t < m) ? t : m }')
  done
  echo "$a $b"
}
# The store's ratio.
read -r plain1_s store1_s < <(interleaved plain_scan fresh_store_scan)
# The webhook's cost: a receiver on loopback answering 200 at once, the two scans interleaved.
port=$((20000 + RANDOM % 20000))
exec 9> >(./target/release/tripline-gen receive "127.0.0.1:$port" >/dev/null)
sleep 0.5
hook_scan() { ./target/release/tripline scan "$corpus" --format jsonl -q --output "webhook:http://127.0.0.1:$port/hook"; }
batch_scan() { ./target/release/tripline scan "$corpus" --format jsonl -q --output "webhook:http://127.0.0.1:$port/hook#batch=100"; }
plainN() { ./target/release/tripline scan "$corpus" --format jsonl -q; }
read -r plainN_s hook_s < <(interleaved plainN hook_scan)
read -r plainB_s batch_s < <(interleaved plainN batch_scan)
exec 9>&-
all_rules_s=0
if [ -d ../shared/corpus ]; then
  all_rules_s=$(best one_core ./target/release/tripline scan "$corpus" --rules ../shared/corpus --format jsonl -q)
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
awk -v n="$records" -v g="$gunzip_s" -v s1="$scan1_s" -v sn="$scanN_s" -v st="$store1_s" -v p1="$plain1_s" 'BEGIN {
  printf "gunzip alone (1 core):      %.3fs  %9.0f records/s\n", g, n / g
  printf "scan, built-in (1 core):    %.3fs  %9.0f records/s  %.2fx gunzip\n", s1, n / s1, s1 / g
  printf "scan, built-in (all cores): %.3fs  %9.0f records/s  %.2fx gunzip\n", sn, n / sn, sn / g
  printf "scan --store sqlite (1 core): %.3fs %9.0f records/s  %.2fx the same scan without a store (%.3fs, interleaved)\n", st, n / st, st / p1, p1
}'
awk -v h="$hook_s" -v p="$plainN_s" 'BEGIN {
  printf "scan with a webhook output (all cores): %.3fs  %.2fx the same scan without it (%.3fs, interleaved)\n", h, h / p, p
}'
awk -v h="$batch_s" -v p="$plainB_s" 'BEGIN {
  printf "scan with a webhook output, batch=100 (all cores): %.3fs  %.2fx the same scan without it (%.3fs, interleaved)\n", h, h / p, p
}'
if [ "$all_rules_s" != 0 ]; then
  awk -v n="$records" -v a="$all_rules_s" -v s1="$scan1_s" 'BEGIN {
    printf "scan, every corpus rule too (1 core): %.3fs %9.0f records/s  %.2fx the built-in scan\n", a, n / a, a / s1
  }'
fi
