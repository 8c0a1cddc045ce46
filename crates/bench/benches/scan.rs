//! What a scan costs against its floor, decompression, on one core: both benchmarks read the
//! same gzipped bytes with the same decompressor, so their ratio is the engine's overhead.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tripline_engine::EngineBuilder;
use tripline_io::decode::{decode_bytes, gunzip_len};
use tripline_io::scan::{scan_decoded, TimeRange};

const RECORDS: usize = 100_000;

fn builtin_engine() -> tripline_engine::Engine {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let mut builder = EngineBuilder::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("rules/ is readable").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yml") {
                let text = std::fs::read_to_string(&path).expect("rule files are readable");
                for rule in tripline_lang::compile(&path, &text, &tripline_lang::Options::default()).rules {
                    builder.add(Arc::new(rule));
                }
            }
        }
    }
    builder.build().expect("built-in rules compile")
}

fn scan(c: &mut Criterion) {
    let files = tripline_bench::generate(&tripline_bench::Spec { seed: 7, records: RECORDS, per_file: 1000, sg_per_mille: 5 });
    let engine = builtin_engine();
    let plan = tripline_alert::CorrelationPlan::default();
    let mut group = c.benchmark_group("ingest");
    group.sample_size(10);
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function("gunzip_only/records=100k", |b| {
        b.iter(|| files.iter().map(|f| gunzip_len(&f.gzip).expect("valid gzip")).sum::<usize>());
    });
    group.bench_function("scan_builtin/records=100k", |b| {
        b.iter(|| {
            files
                .iter()
                .map(|f| scan_decoded(&engine, &plan, &f.path, decode_bytes(&f.path, &f.gzip), TimeRange::default()).signals.len())
                .sum::<usize>()
        });
    });
    group.finish();
    black_box(());
}

criterion_group!(benches, scan);
criterion_main!(benches);
