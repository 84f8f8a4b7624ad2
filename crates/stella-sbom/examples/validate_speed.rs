//! Times `stella sbom validate`'s library flow on one document: the embedded schema's one-off
//! compilation, then repeated validations (official schema + semantic checks).
//!
//! Usage: `cargo run --release -p stella-sbom --example validate_speed -- FILE [RUNS] [SCHEMA_DIR]`
//! (`bench/sbom_validate.sh` runs it on the fixtures and a generated large SBOM). With
//! SCHEMA_DIR, the same document is also checked against `bom-<version>.schema.json` read from
//! there, as `--schema-dir` does.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use stella_core::jcs::Limits;
use stella_sbom::SbomDocument;
use stella_sbom::validate::{OfficialSchema, validate};

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let file = args
        .get(1)
        .expect("usage: validate_speed FILE [RUNS] [SCHEMA_DIR]");
    let runs: usize = args.get(2).map_or(20, |s| s.parse().expect("RUNS"));
    let bytes = std::fs::read(file).expect("readable");
    let limits = Limits {
        max_bytes: 1 << 30,
        ..Limits::default()
    };
    let doc = SbomDocument::read(&bytes, limits).expect("CycloneDX");
    let mb = bytes.len() as f64 / 1e6;
    let time = |label: &str, schema: Option<&OfficialSchema>| {
        let mut times = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let report = validate(&doc, schema);
            times.push(t.elapsed());
            assert!(report.is_valid(), "{:?}", report.problems);
        }
        let m = median(times);
        println!(
            "{label}: median {:.3} ms over {runs} runs, {:.1} MB/s",
            m.as_secs_f64() * 1e3,
            mb / m.as_secs_f64()
        );
    };
    println!(
        "{file}: {} bytes, CycloneDX {}",
        bytes.len(),
        doc.spec_version()
    );
    let t = Instant::now();
    OfficialSchema::embedded(doc.spec_version());
    println!(
        "compile embedded schema (once per process): {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    time("embedded schema + semantic", None);
    if let Some(dir) = args.get(3) {
        let t = Instant::now();
        let schema = OfficialSchema::load(dir.as_ref(), doc.spec_version().as_str())
            .expect("schema directory");
        println!(
            "read + compile schema from directory: {:.1} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
        time("directory schema + semantic", Some(&schema));
    }
}
