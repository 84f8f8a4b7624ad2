//! A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8, which accepts
//! `subject` but has no referrers API, so the tag-schema fallback is exercised), started on a
//! free loopback port with its storage in a test's directory, and stopped when dropped.
//!
//! Not here: what the tests check against it.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Where Debian installs the registry binary.
const BINARIES: [&str; 2] = ["/usr/bin/docker-registry", "/usr/sbin/docker-registry"];

/// A running `docker-registry`, killed (and reaped) on drop.
#[derive(Debug)]
pub struct Registry {
    child: Child,
    /// `127.0.0.1:<port>`.
    pub host: String,
}

impl Registry {
    /// Starts `docker-registry` on a free loopback port, storing into `dir/data`; `None` when it
    /// is not installed (the caller then [`skip`](crate::skip)s).
    ///
    /// # Panics
    /// When it is installed but cannot be started or does not answer within five seconds: the
    /// test fails rather than checking nothing.
    // Failing the calling test is how a broken peer is reported.
    #[allow(clippy::panic, clippy::expect_used)]
    pub fn start(dir: &Path) -> Option<Registry> {
        let binary = BINARIES.into_iter().find(|p| Path::new(p).exists())?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let host = format!("127.0.0.1:{port}");
        let config = dir.join("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {host}\n",
                dir.join("data").display()
            ),
        )
        .expect("registry config written");
        let child = Command::new(binary)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry starts");
        let registry = Registry { child, host };
        for _ in 0..100 {
            if answers_v2(&registry.host) {
                return Some(registry);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("docker-registry did not answer on {}", registry.host);
    }
}

/// Whether `GET /v2/` on `host` answers 200 (plain HTTP/1.0, so no client library is needed).
fn answers_v2(host: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(host) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if stream
        .write_all(format!("GET /v2/ HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b" 200")
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
