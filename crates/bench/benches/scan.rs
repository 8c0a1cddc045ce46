//! What a scan costs against its floor, decompression, on one core: both benchmarks read the
//! same gzipped bytes with the same decompressor, so their ratio is the engine's overhead.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tripline_engine::suppress::SuppressionSet;
use tripline_engine::EngineBuilder;
use tripline_io::decode::{decode_bytes, gunzip_len};
use tripline_pipeline::scan::{scan_decoded, Detection, TimeRange};

const RECORDS: usize = 100_000;

/// The allocator the `tripline` binary ships with, so that building signals costs here what it
/// costs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Every rule file under the given folders, compiled.
fn compile_all(roots: &[PathBuf]) -> Vec<tripline_rule::Rule> {
    let mut rules = Vec::new();
    let mut stack = roots.to_vec();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("rules/ is readable").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yml" || e == "toml") {
                let text = std::fs::read_to_string(&path).expect("rule files are readable");
                rules.extend(
                    tripline_lang::compile(&path, &text, &tripline_lang::Options::default()).rules,
                );
            }
        }
    }
    rules
}

fn engine(roots: &[PathBuf]) -> tripline_engine::Engine {
    let mut builder = EngineBuilder::new();
    for rule in compile_all(roots) {
        builder.add(Arc::new(rule));
    }
    builder.build().expect("rules compile")
}

fn builtin() -> Vec<PathBuf> {
    vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules")]
}

/// The third-party rule corpus, read in place (never copied into the project).
fn corpus() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    [
        "sigma/rules_cloud_aws_cloudtrail",
        "elastic-rules/rules/integrations/aws",
        "panther/simple-detections",
    ]
    .iter()
    .map(|d| root.join(d))
    .collect()
}

/// Decompress, find records and evaluate: the scan without building signals.
fn evaluate_only(
    engine: &tripline_engine::Engine,
    files: &[tripline_bench::GeneratedFile],
) -> usize {
    let mut matched = 0;
    let mut matches = Vec::new();
    for f in files {
        let decoded = decode_bytes(&f.path, &f.gzip);
        tripline_io::shape::parse(&f.path, &decoded.text, &mut |item| {
            if let tripline_io::shape::Item::Record { record, .. } = item {
                matches.clear();
                engine.evaluate(&record, &mut matches);
                matched += matches.len();
            }
        });
    }
    matched
}

fn scan(c: &mut Criterion) {
    let files = tripline_bench::generate(&tripline_bench::Spec {
        seed: 7,
        records: RECORDS,
        per_file: 1000,
        sg_per_mille: 5,
    });
    let builtin_detection = Detection {
        engine: engine(&builtin()),
        plan: tripline_alert::CorrelationPlan::default(),
        suppressions: SuppressionSet::default(),
    };
    let engine = &builtin_detection.engine;
    let mut all = builtin();
    all.extend(corpus());
    let everything = Detection {
        engine: self::engine(&all),
        plan: tripline_alert::CorrelationPlan::default(),
        suppressions: SuppressionSet::default(),
    };
    let mut group = c.benchmark_group("ingest");
    group.sample_size(10);
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function("gunzip_only/records=100k", |b| {
        b.iter(|| files.iter().map(|f| gunzip_len(&f.gzip).expect("valid gzip")).sum::<usize>());
    });
    let scan_all = |detection: &Detection| {
        files
            .iter()
            .map(|f| {
                scan_decoded(
                    detection,
                    &f.path,
                    decode_bytes(&f.path, &f.gzip),
                    TimeRange::default(),
                )
                .signals
                .len()
            })
            .sum::<usize>()
    };
    group.bench_function("scan_builtin/records=100k", |b| b.iter(|| scan_all(&builtin_detection)));
    group.bench_function("evaluate_builtin/records=100k", |b| {
        b.iter(|| evaluate_only(engine, &files))
    });
    group.bench_function("evaluate_all_corpus_rules/records=100k", |b| {
        b.iter(|| evaluate_only(&everything.engine, &files))
    });
    // The same with signals built: every corpus rule flags most of the generated records.
    group
        .bench_function("scan_all_corpus_rules/records=100k", |b| b.iter(|| scan_all(&everything)));
    group.finish();
    let mut lang = c.benchmark_group("lang");
    lang.sample_size(10);
    lang.bench_function("compile_corpus", |b| b.iter(|| black_box(compile_all(&corpus()).len())));
    lang.finish();
}

criterion_group!(benches, scan);
criterion_main!(benches);
