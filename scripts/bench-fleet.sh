#!/usr/bin/env bash
# A fleet on one queue and one PostgreSQL store, against moto's server on 127.0.0.1: the seeded
# corpus of scripts/bench.sh (default 200,000 records in 200 gzipped delivery files) put in a
# bucket and enqueued, then drained by 1, 2 and 4 `tripline run` processes at once, each time
# with a new queue and a new PostgreSQL server (fsync on, as a real one runs). For each: the
# throughput, and the share of the workers' time spent waiting for the store's write lock and
# holding it (each worker says both when it stops), with the CPU seconds tripline and the
# emulator spent, so the time can be placed; then the same without the emulator, each worker
# following a folder of its share of the files.
#   usage: [SG_PER_MILLE=N] scripts/bench-fleet.sh [RECORDS] [WORKER COUNTS…]
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-200000}
shift || true
counts=${*:-1 2 4}
# Security-group changes per thousand records (scripts/bench.sh's 5 make 1.6 % of records
# signals, far more than a real trail; 1 is nearer one).
rate=${SG_PER_MILLE:-5}
corpus=target/bench-corpus-$records
[ "$rate" = 5 ] || corpus=$corpus-sg$rate
cargo build --release --locked -q -p tripline-cli -p tripline-bench
[ -d "$corpus" ] || ./target/release/tripline-gen write "$corpus" "$records" 1000 7 "$rate"
work=$(mktemp -d)
trap 'kill ${moto_pid:-} 2>/dev/null; scripts/test-postgres.sh stop "$work/pg" 2>/dev/null; rm -rf "$work"' EXIT
[ "$(id -u)" = 0 ] && chmod 755 "$work"
# shellcheck source=scripts/emulated-bucket.sh
. scripts/emulated-bucket.sh
pg_port=$((port + 1))
ticks=$(getconf CLK_TCK)
# One line for a run of $1 workers from $2 to $3 (the emulator's CPU ticks $4 to $5), from
# what each worker said and its CPU time.
summarise() {
  cat "$work"/said-* "$work"/time-* | awk -v n="$1" -v records="$records" -v a="$2" -v b="$3" -v m0="$4" -v m1="$5" -v hz="$ticks" '
    /write transaction\(s\) in/ {
      for (i = 1; i <= NF; i++) {
        if ($i == "in") run += $(i + 1) + 0
        if ($i == "waiting") wait += $(i - 2) + 0
        if ($i == "holding") hold += $(i - 2) + 0
      }
      tx += $2
    }
    /^cpu / { cpu += $2 + $3 }
    END {
      wall = b - a
      printf "%d worker(s): %.2fs wall  %8.0f records/s  %d transactions  lock waited %.1f%% and held %.1f%% of worker time  (tripline %.2f CPU s, emulator %.2f CPU s)\n",
        n, wall, records / wall, tx, 100 * wait / run, 100 * hold / run, cpu, (m1 - m0) / hz
    }'
  if grep -qi "^error" "$work"/said-*; then echo "  (a worker said an error:)"; grep -hi "^error" "$work"/said-* | head -3; fi
  rm -f "$work"/said-* "$work"/time-*
}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $records records in $(find "$corpus" -type f | wc -l) objects, $rate security-group changes per thousand"
for n in $counts; do
  store=$(TRIPLINE_PG_FSYNC=${TRIPLINE_PG_FSYNC:-on} scripts/test-postgres.sh start "$work/pg" "$pg_port")
  ./target/release/tripline alerts list --store "$store" >/dev/null  # creates the schema before the clock starts
  queue=$(curl -s -X POST -H "$(sign sqs)" -d "Action=CreateQueue&QueueName=fleet-$n" "$url/" | sed -n 's|.*<QueueUrl>\(.*\)</QueueUrl>.*|\1|p')
  ./target/release/tripline enqueue s3://bench/ --queue "$queue" -q
  m0=$(cpu $moto_pid); t0=$(date +%s.%N)
  pids=()
  for i in $(seq "$n"); do
    /usr/bin/time -f "cpu %U %S" -o "$work/time-$i" ./target/release/tripline run --queue "$queue" --store "$store" \
      --listen off --wait 1s --until-empty --format jsonl >/dev/null 2>"$work/said-$i" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || true; done
  t1=$(date +%s.%N); m1=$(cpu $moto_pid)
  summarise "$n" "$t0" "$t1" "$m0" "$m1"
  scripts/test-postgres.sh stop "$work/pg"
done
# The same store without the emulator: each worker follows its own folder holding every n-th
# file of the corpus (hard links), one poll, so the store is what the workers share.
echo "from folders on disk, one per worker (no emulator):"
for n in $counts; do
  store=$(TRIPLINE_PG_FSYNC=${TRIPLINE_PG_FSYNC:-on} scripts/test-postgres.sh start "$work/pg" "$pg_port")
  ./target/release/tripline alerts list --store "$store" >/dev/null
  rm -rf "$work/split"
  i=0
  find "$corpus" -type f | sort | while read -r file; do
    dir=$work/split/$((i % n)); mkdir -p "$dir"; ln "$file" "$dir/$i.json.gz" 2>/dev/null || cp "$file" "$dir/$i.json.gz"; i=$((i + 1))
  done
  t0=$(date +%s.%N)
  pids=()
  for i in $(seq 0 $((n - 1))); do
    /usr/bin/time -f "cpu %U %S" -o "$work/time-$i" ./target/release/tripline run --folder "$work/split/$i" --store "$store" \
      --listen off --polls 1 --settle 0s --format jsonl >/dev/null 2>"$work/said-$i" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || true; done
  t1=$(date +%s.%N)
  summarise "$n" "$t0" "$t1" 0 0
  scripts/test-postgres.sh stop "$work/pg"
done
