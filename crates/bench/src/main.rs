//! `tripline-gen`: writes a seeded, realistic CloudTrail corpus (see the library doc), or times
//! gunzip alone over a corpus — the floor a scan is compared against.
//!
//!   tripline-gen write OUT_DIR [RECORDS] [PER_FILE] [SEED] [SG_PER_MILLE]
//!   tripline-gen gunzip DIR
//!   tripline-gen receive ADDR        (a webhook receiver answering 200, until stdin closes)

mod receive;

use std::path::{Path, PathBuf};
use std::time::Instant;

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files_under(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, default: T) -> T {
    args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default)
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("write") if args.len() >= 3 => {
            let out = PathBuf::from(&args[2]);
            let spec = tripline_bench::Spec {
                records: arg(&args, 3, 100_000),
                per_file: arg(&args, 4, 1000),
                seed: arg(&args, 5, 7),
                sg_per_mille: arg(&args, 6, 5),
            };
            let files = tripline_bench::generate(&spec);
            for f in &files {
                let path = out.join(&f.path);
                std::fs::create_dir_all(path.parent().expect("generated paths have folders"))?;
                std::fs::write(&path, &f.gzip)?;
            }
            let bytes: usize = files.iter().map(|f| f.gzip.len()).sum();
            eprintln!(
                "wrote {} records in {} files ({:.1} MB gzipped) under {}",
                spec.records,
                files.len(),
                bytes as f64 / 1e6,
                out.display()
            );
            Ok(())
        }
        Some("gunzip") if args.len() >= 3 => {
            let mut files = Vec::new();
            files_under(Path::new(&args[2]), &mut files)?;
            let raw: Vec<Vec<u8>> = files.iter().map(std::fs::read).collect::<Result<_, _>>()?;
            let started = Instant::now();
            let mut total = 0;
            for bytes in &raw {
                total += tripline_io::decode::gunzip_len(bytes)?;
            }
            let secs = started.elapsed().as_secs_f64();
            println!(
                "gunzip: {} files, {:.1} MB out, {secs:.3}s, {:.0} MB/s",
                files.len(),
                total as f64 / 1e6,
                total as f64 / 1e6 / secs
            );
            Ok(())
        }
        Some("receive") if args.len() >= 3 => receive::run(&args[2]),
        _ => {
            eprintln!("usage: tripline-gen write OUT_DIR [RECORDS] [PER_FILE] [SEED] [SG_PER_MILLE]\n       tripline-gen gunzip DIR\n       tripline-gen receive ADDR");
            std::process::exit(2);
        }
    }
}
