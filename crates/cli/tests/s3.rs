//! `scan s3://…` against a real S3 emulator (moto's server on 127.0.0.1): a bucket in the
//! organisation-trail layout holding the bundled example logs, digests, other services' logs,
//! gzip and plain objects.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::emulator::Emulator;
use common::{jsonl, tripline_with, workspace, Run};

const BUCKET: &str = "org-cloudtrail";
/// Where the organisation trail writes: `<prefix>/AWSLogs/<org id>/<account>/…`.
const ORG: &str = "trail/AWSLogs/o-abc123de45";

fn scan(emulator: &Emulator, args: &[&str]) -> Run {
    let env = emulator.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut all = vec!["scan"];
    all.extend(args);
    tripline_with(&all, None, &env)
}

/// The example logs, each under the organisation layout (one of them stored plain, not
/// gzip), with the other services' logs a trail bucket also holds.
fn fill(emulator: &Emulator) {
    emulator.bucket(BUCKET);
    let examples = workspace().join("examples/AWSLogs");
    let mut plain = true;
    for entry in walkdir::WalkDir::new(&examples).sort_by_file_name() {
        let entry = entry.expect("example entry");
        if !entry.file_type().is_file() {
            continue;
        }
        let relative = entry.path().strip_prefix(&examples).expect("below examples");
        let mut body = std::fs::read(entry.path()).expect("example log");
        let key = format!("{ORG}/{}", relative.display());
        if plain && key.contains("/CloudTrail/") {
            // One object stored as plain JSON: read the same.
            body = gunzip(&body);
            plain = false;
        }
        emulator.put(BUCKET, &key, &body);
    }
    for (key, body) in [
        (
            format!("{ORG}/111122223333/Config/us-east-1/2024/8/1/ConfigSnapshot/snap.json.gz"),
            common::gzip(b"{\"fileVersion\":\"1.0\",\"configurationItems\":[]}"),
        ),
        (
            format!("{ORG}/444455556666/elasticloadbalancing/us-east-1/2024/08/01/lb.log.gz"),
            common::gzip(b"h2 2024-08-01T09:00:00Z app/x 1.2.3.4:5 - -1 -1 -1 503 - 0 0"),
        ),
        (format!("{ORG}/111122223333/Config/ConfigWritabilityCheckFile"), b"ok".to_vec()),
    ] {
        emulator.put(BUCKET, &key, &body);
    }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out).expect("example is gzip");
    out
}

/// (rule, event) of each signal, and (alert id, events) of each alert, of a JSON-lines run.
fn results(stdout: &str) -> (BTreeMap<(String, String), usize>, BTreeMap<String, u64>) {
    let mut signals = BTreeMap::new();
    let mut alerts = BTreeMap::new();
    for line in jsonl(stdout) {
        let text = |k: &str| line[k].as_str().unwrap_or_default().to_owned();
        match line["type"].as_str() {
            Some("signal") => *signals.entry((text("rule_id"), text("event_id"))).or_insert(0) += 1,
            Some("alert") => {
                alerts.insert(text("alert_id"), line["event_count"].as_u64().unwrap_or(0));
            }
            _ => panic!("unexpected line {line}"),
        }
    }
    (signals, alerts)
}

fn local(args: &[&str]) -> Run {
    let mut all = vec!["scan"];
    all.extend(args);
    common::tripline(&all)
}

#[test]
fn a_bucket_scans_as_the_same_files_on_disk_and_leaves_digests_and_other_services_unlisted() {
    let emulator = Emulator::start();
    fill(&emulator);
    let remote = scan(&emulator, &[&format!("s3://{BUCKET}/"), "--format", "jsonl"]);
    assert_eq!(remote.code, 1, "alerts raised: {}", remote.stderr);
    let disk = local(&["examples", "--format", "jsonl"]);
    assert_eq!(disk.code, 1, "{}", disk.stderr);
    let (signals, alerts) = results(&remote.stdout);
    assert!(signals.len() > 40 && alerts.len() > 30, "{} signals", signals.len());
    assert_eq!((signals, alerts), results(&disk.stdout), "the same signals and alerts");
    // Signals name the object they came from.
    let first = jsonl(&remote.stdout).into_iter().find(|l| l["type"] == "signal").expect("one");
    let file = first["input"]["file"].as_str().expect("input file");
    assert!(file.starts_with(&format!("s3://{BUCKET}/{ORG}/")), "{file}");
    for said in [
        "scanned 12 file(s)",
        "(0 with errors, 0 digest file(s) skipped)",
        "3 folder(s) of digests and other services not listed (CloudTrail-Digest 1, Config 1, elasticloadbalancing 1)",
    ] {
        assert!(remote.stderr.contains(said), "{said}: {}", remote.stderr);
    }
}

#[test]
fn accounts_regions_and_days_narrow_the_listing_to_what_the_same_scan_on_disk_reads() {
    let emulator = Emulator::start();
    fill(&emulator);
    // A later day's copy, which a scan of 2024-08-01 must not read.
    let later = format!("{ORG}/444455556666/CloudTrail/us-east-1/2024/08/09/copy.json.gz");
    let source = workspace().join("examples/AWSLogs/444455556666/CloudTrail/us-east-1/2024/08/01");
    let one = std::fs::read_dir(&source).expect("examples").next().expect("a file").expect("entry");
    emulator.put(BUCKET, &later, &std::fs::read(one.path()).expect("read"));
    let narrowed = scan(
        &emulator,
        &[
            &format!("s3://{BUCKET}/trail/"),
            "--account",
            "444455556666",
            "--region",
            "us-east-1,eu-west-1",
            "--since",
            "2024-08-01",
            "--until",
            "2024-08-02",
            "--format",
            "jsonl",
        ],
    );
    assert!(narrowed.stderr.contains("scanned 4 file(s)"), "{}", narrowed.stderr);
    let account = workspace().join("examples/AWSLogs/444455556666/CloudTrail");
    let (us, eu) = (account.join("us-east-1"), account.join("eu-west-1"));
    let args = |dir: &Path| dir.to_string_lossy().into_owned();
    let disk = local(&[&args(&us), &args(&eu), "--format", "jsonl"]);
    assert_eq!(results(&narrowed.stdout), results(&disk.stdout));
    // Without the days, the later copy is read too.
    let region = format!("s3://{BUCKET}/{ORG}/444455556666/CloudTrail/us-east-1/");
    let every_day = scan(&emulator, &[&region]);
    assert!(every_day.stderr.contains("scanned 3 file(s)"), "{}", every_day.stderr);
}

#[test]
fn a_store_knows_objects_by_etag_and_reads_one_whose_content_changed() {
    let emulator = Emulator::start();
    fill(&emulator);
    let dir = tempfile::tempdir().expect("temp");
    let store = dir.path().join("alerts.db").to_string_lossy().into_owned();
    let url = format!("s3://{BUCKET}/");
    let first = scan(&emulator, &[&url, "--store", &store]);
    assert_eq!(first.code, 1, "{}", first.stderr);
    let again = scan(&emulator, &[&url, "--store", &store]);
    assert_eq!(again.code, 0, "nothing new: {}", again.stderr);
    assert!(again.stderr.contains("12 input(s) already processed"), "{}", again.stderr);
    // The same key with other content (another ETag) is read again; its events were seen.
    let key = format!("{ORG}/111122223333/CloudTrail/us-east-1/2024/08/01/111122223333_CloudTrail_us-east-1_20240801T0900Z_9bc5029ce660f9aa.json.gz");
    let path = workspace()
        .join("examples/AWSLogs")
        .join(key.strip_prefix(&format!("{ORG}/")).expect("key"));
    let recompressed = common::gzip(&gunzip(&std::fs::read(path).expect("example")));
    emulator.put(BUCKET, &key, &[recompressed.as_slice(), b"\n"].concat());
    let changed = scan(&emulator, &[&url, "--store", &store]);
    assert!(changed.stderr.contains("11 input(s) already processed"), "{}", changed.stderr);
    assert!(changed.stderr.contains("0 new signal(s)"), "{}", changed.stderr);
}

#[test]
fn a_damaged_object_or_a_missing_bucket_is_an_error_naming_it_and_the_rest_is_read() {
    let emulator = Emulator::start();
    fill(&emulator);
    let key = format!("{ORG}/111122223333/CloudTrail/eu-west-1/2024/08/01/broken.json.gz");
    let whole = common::gzip(br#"{"Records":[{"eventVersion":"1.08","eventName":"X"}]}"#);
    emulator.put(BUCKET, &key, &whole[..whole.len() / 2]);
    let run = scan(&emulator, &[&format!("s3://{BUCKET}/"), "s3://no-such-bucket-here/", "-q"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains(&format!("s3://{BUCKET}/{key}")), "{}", run.stderr);
    assert!(run.stderr.contains("gzip stream is damaged"), "{}", run.stderr);
    assert!(
        run.stderr.contains("s3://no-such-bucket-here/: error: cannot be listed: NoSuchBucket"),
        "{}",
        run.stderr
    );
    let summary = scan(&emulator, &[&format!("s3://{BUCKET}/"), "--format", "jsonl"]);
    assert!(summary.stderr.contains("scanned 13 file(s)"), "{}", summary.stderr);
    assert!(summary.stderr.contains("(1 with errors"), "{}", summary.stderr);
}
