//! A real PostgreSQL server for tests: a fresh cluster (`initdb`) in a test's directory, started
//! with `pg_ctl` on 127.0.0.1 at a free port, trust authentication for the one user `stella`,
//! stopped (`pg_ctl stop -m immediate`) when dropped. PostgreSQL refuses to run as root, so
//! under root the directory is given to the `postgres` user (Debian's package makes it) and
//! every command runs through `runuser`.
//!
//! Not here: what the tests check against it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A running server.
#[derive(Debug)]
pub struct Server {
    bin: PathBuf,
    data: PathBuf,
    user: Option<String>,
    /// The server's options (`pg_ctl -o`) and log file, to start it again.
    options: String,
    log: PathBuf,
    /// The database URL (`postgres://stella@127.0.0.1:<port>/postgres`).
    pub url: String,
}

/// The directory of `initdb`, `pg_ctl` and `postgres`: on `PATH`, else the newest
/// `/usr/lib/postgresql/<major>/bin` (Debian's layout, not on `PATH`).
fn bin_dir() -> Option<PathBuf> {
    let has_all = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    if let Some(path) = std::env::var_os("PATH")
        && let Some(dir) = std::env::split_paths(&path).find(|d| has_all(d))
    {
        return Some(dir);
    }
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let major = e.file_name().to_str()?.parse().ok()?;
            Some((major, e.path().join("bin")))
        })
        .filter(|(_, bin)| has_all(bin))
        .collect();
    majors.sort();
    majors.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

impl Server {
    /// Makes a cluster in `dir/data` and starts it, its socket and log in `dir`; `Err` says
    /// what is missing (for the caller's [`skip`](crate::skip)) when the binaries are not
    /// installed.
    ///
    /// # Panics
    /// When the binaries are there but the server cannot be made or started: the test fails
    /// rather than checking nothing.
    // Failing the calling test is how a broken peer is reported.
    #[allow(clippy::panic, clippy::expect_used)]
    pub fn start(dir: &Path) -> Result<Server, String> {
        let bin = bin_dir().ok_or(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH or in \
             /usr/lib/postgresql/*/bin; install with `apt-get install postgresql`",
        )?;
        let user = is_root().then(|| "postgres".to_owned());
        if let Some(user) = &user {
            let status = Command::new("chown")
                .args(["-R", user])
                .arg(dir)
                .status()
                .expect("chown runs");
            assert!(status.success(), "chown {user} {}", dir.display());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let server = Server {
            data: dir.join("data"),
            url: format!("postgres://stella@127.0.0.1:{port}/postgres"),
            bin,
            user,
            options: format!("-h 127.0.0.1 -p {port} -k {} -F", path_str(dir)),
            log: dir.join("server.log"),
        };
        server.run(
            "initdb",
            &[
                "-D",
                path_str(&server.data),
                "-U",
                "stella",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        server.boot();
        Ok(server)
    }

    /// Starts the server (again), waiting until it takes connections.
    pub fn boot(&self) {
        self.run(
            "pg_ctl",
            &[
                "-D",
                path_str(&self.data),
                "-l",
                path_str(&self.log),
                "-o",
                &self.options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// Stops the server as a crash would (`-m immediate`: no checkpoint, every connection cut).
    pub fn crash(&self) {
        self.run(
            "pg_ctl",
            &["-D", path_str(&self.data), "-m", "immediate", "-w", "stop"],
        );
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        match &self.user {
            Some(user) => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", user, "--"]).arg(program);
                cmd
            }
            None => Command::new(program),
        }
    }

    #[allow(clippy::panic, clippy::expect_used)]
    fn run(&self, program: &str, args: &[&str]) {
        let out = self
            .command(program)
            .args(args)
            .output()
            .expect("the PostgreSQL tools run");
        assert!(
            out.status.success(),
            "{program} {args:?}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Test directories are ASCII paths under the temporary directory.
#[allow(clippy::expect_used)]
fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-D", path_str(&self.data), "-m", "immediate", "-w", "stop"])
            .output();
    }
}
