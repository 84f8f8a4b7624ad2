//! The bytes of a binary under analysis: a private snapshot, read into memory.
//!
//! Binaries used to be memory-mapped. A shared or private map reads the file's pages lazily, so
//! when another process truncates the file while it is being proved, the next touch of a page
//! past the new end raises `SIGBUS` and kills the whole process: one file being rewritten during
//! a scan of thousands ended the scan. (`MAP_PRIVATE` copies a page when this process writes it,
//! not when the file shrinks.) A snapshot read with `read(2)` cannot change under the proof; it
//! is also exactly the bytes the proof's `file.sha256` describes. A file whose size changes while
//! it is read is refused as [`BinaryError::Changed`], an error of that one file.
//!
//! The cost: one copy per byte into memory that the proof holds anyway while it is built.
//! Hashing (SHA-256 + BLAKE3) the 897 ELF files (854 MB) of Debian 12's `/usr/lib/x86_64-linux-gnu`
//! on two threads, page cache warm, took a median 1.72 s mapped and 2.50 s read: about 0.9 ms per
//! MB, some 4 % of a `stella scan` of that directory (BENCHMARKS.md: 15.8 s). Peak memory is at
//! most one binary per worker thread, each bounded by `--max-binary-size`.

use std::io::Read;
use std::ops::Deref;
use std::path::Path;

use stella_core::file::open_regular;

use crate::BinaryError;

/// The whole content of a file, read once; it dereferences to the bytes.
pub struct FileSnapshot {
    bytes: Vec<u8>,
}

/// The name [`FileSnapshot`] had while binaries were memory-mapped.
pub type MappedFile = FileSnapshot;

impl FileSnapshot {
    /// Reads the regular file at `path` (following symbolic links).
    ///
    /// # Errors
    /// [`BinaryError::Open`] when `path` is not a regular file (a directory, a FIFO, a device:
    /// refused before anything waits on it) or cannot be opened; [`BinaryError::Io`] when
    /// reading fails; [`BinaryError::Changed`] when the file's size changed while it was read.
    pub fn open(path: &Path) -> Result<Self, BinaryError> {
        let (file, metadata) = open_regular(path)?;
        let bytes = read_exactly(file, metadata.len()).map_err(|e| match e {
            Short::Io(source) => BinaryError::Io {
                path: path.display().to_string(),
                source,
            },
            Short::Changed { read } => BinaryError::Changed {
                path: path.display().to_string(),
                size: metadata.len(),
                read,
            },
        })?;
        Ok(FileSnapshot { bytes })
    }
}

/// Why a file did not yield the number of bytes its metadata announced.
#[derive(Debug)]
enum Short {
    Io(std::io::Error),
    /// The file ended before `size`, or went on after it.
    Changed {
        read: u64,
    },
}

/// Reads `size` bytes from `file` and checks that nothing follows them.
fn read_exactly(file: impl Read, size: u64) -> Result<Vec<u8>, Short> {
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // One byte past `size` shows a file that grew; fewer than `size` one that shrank.
    let read = file
        .take(size.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(Short::Io)? as u64;
    if read != size {
        return Err(Short::Changed { read });
    }
    Ok(bytes)
}

impl Deref for FileSnapshot {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::process::Command;

    /// Set in the child process that [`truncated_while_proved_is_an_error_not_a_signal`] starts.
    const CHILD: &str = "STELLA_SNAPSHOT_TRUNCATE_CHILD";

    /// A small ELF with DWARF, which proves without error.
    fn an_elf() -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fuzz-regressions/seed-x86_64-dwarf.elf");
        std::fs::read(path).expect("the seed ELF is readable")
    }

    #[test]
    fn truncated_while_proved_is_an_error_not_a_signal() {
        if let Some(path) = std::env::var_os(CHILD) {
            // The child: open the binary for proving, let another handle cut it to nothing,
            // then prove. With a memory map this dies of SIGBUS on the first page touched.
            let path = std::path::PathBuf::from(path);
            let snapshot = FileSnapshot::open(&path).expect("opens");
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_len(0))
                .expect("truncated through another handle");
            let proof = crate::FuncProof::build(&snapshot);
            println!("child: proof built: {}", proof.is_ok());
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("being-rewritten");
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(&an_elf()))
            .expect("written");
        let out = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "snapshot::tests::truncated_while_proved_is_an_error_not_a_signal",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, &path)
            .output()
            .expect("child runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("child: proof built: true"),
            "proving a file truncated after it was opened must not kill the process \
             ({}); stdout: {stdout}; stderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn a_size_that_changes_while_read_is_refused() {
        assert_eq!(read_exactly(&b"abcd"[..], 4).expect("same size"), b"abcd");
        assert!(matches!(
            read_exactly(&b"ab"[..], 4),
            Err(Short::Changed { read: 2 })
        ));
        assert!(matches!(
            read_exactly(&b"abcdef"[..], 4),
            Err(Short::Changed { read: 5 })
        ));
    }

    #[test]
    fn fifos_and_directories_are_refused_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("pipe");
        assert!(
            Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .expect("mkfifo runs")
                .success()
        );
        let (tx, rx) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || {
            let _ = tx.send(FileSnapshot::open(&path).map(|_| ()));
        });
        let err = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("a FIFO without a writer is refused, not waited on")
            .unwrap_err();
        assert!(err.to_string().contains("FIFO"), "{err}");
        assert!(err.to_string().contains(&*fifo.to_string_lossy()), "{err}");
        let err = FileSnapshot::open(dir.path()).err().expect("a directory");
        assert!(err.to_string().contains("is a directory"), "{err}");
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").expect("write");
        assert!(FileSnapshot::open(&empty).expect("empty file").is_empty());
    }
}
