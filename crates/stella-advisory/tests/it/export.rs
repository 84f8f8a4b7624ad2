//! Zip exports as OSV publishes them (`all.zip`: flat `<ID>.json` entries), built here with the
//! zip crate's writer from the Go vulnerability database fixtures, and the archives an import
//! must refuse: zip bombs (by size and by ratio), entries that leave the directory, non-zips.

use std::io::{Cursor, Write as _};
use std::path::PathBuf;

use stella_advisory::export::{self, ExportError};
use stella_advisory::osv::Record;
use zip::write::SimpleFileOptions;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/advisories/go-vulndb-osv")
            .join(name),
    )
    .unwrap()
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        if name.ends_with('/') {
            writer.add_directory(*name, options).unwrap();
        } else {
            writer.start_file(*name, options).unwrap();
            writer.write_all(bytes).unwrap();
        }
    }
    writer.finish().unwrap().into_inner()
}

#[test]
fn an_all_zip_of_records_reads_back_entry_by_entry() {
    let a = fixture("GO-2022-0969.json");
    let b = fixture("GO-2023-1571.json");
    let archive = zip_of(&[
        ("GO-2022-0969.json", &a),
        ("docs/", b""),
        ("README.txt", b"not an advisory"),
        ("GO-2023-1571.json", &b),
    ]);
    assert!(export::looks_like_zip(&archive));
    let entries = export::read_zip(&archive).unwrap();
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["GO-2022-0969.json", "GO-2023-1571.json"]);
    assert_eq!(entries[0].bytes, a);
    assert!(!entries[0].is_rustsec());
    assert_eq!(
        Record::from_json(&entries[1].bytes).unwrap().id,
        "GO-2023-1571"
    );
}

#[test]
fn zip_bombs_are_refused_by_size_and_by_ratio() {
    // 17 MiB of zeros deflate to a few KiB: over the entry limit.
    let huge = vec![b' '; (export::MAX_ENTRY_BYTES + (1 << 20)) as usize];
    match export::read_zip(&zip_of(&[("GO-0000-0001.json", &huge)])) {
        Err(ExportError::EntryTooLarge { name, .. }) => assert_eq!(name, "GO-0000-0001.json"),
        other => panic!("{other:?}"),
    }
    // 1 MiB of spaces: under every size limit, but a thousandfold ratio.
    let spaces = vec![b' '; 1 << 20];
    match export::read_zip(&zip_of(&[("GO-0000-0002.json", &spaces)])) {
        Err(ExportError::Ratio {
            name,
            size,
            compressed,
            limit,
        }) => {
            assert_eq!(name, "GO-0000-0002.json");
            assert_eq!(size, 1 << 20);
            assert!(size > compressed * limit);
        }
        other => panic!("{other:?}"),
    }
    // The same spaces under the ratio floor are a record like any other.
    let small = vec![b' '; (export::RATIO_FLOOR_BYTES / 2) as usize];
    assert_eq!(
        export::read_zip(&zip_of(&[("GO-0000-0003.json", &small)]))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn entries_that_leave_the_directory_refuse_the_archive_by_name() {
    let good = fixture("GO-2022-0969.json");
    for bad in [
        "../GO-2022-0969.json",
        "/tmp/GO-2022-0969.json",
        "a/../../x.txt",
    ] {
        let archive = zip_of(&[("GO-2022-0969.json", &good), (bad, b"{}")]);
        match export::read_zip(&archive) {
            Err(ExportError::UnsafePath { name }) => assert_eq!(name, bad),
            other => panic!("{bad}: {other:?}"),
        }
    }
    assert!(matches!(
        export::read_zip(&good),
        Err(ExportError::NotZip { .. })
    ));
}
