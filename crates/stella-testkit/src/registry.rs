//! A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8, which accepts
//! `subject` but has no referrers API, so the tag-schema fallback is exercised), started on a
//! free loopback port with its storage in a test's directory, and stopped when dropped.
//!
//! [`Options`] make it the registry people run in production: behind `htpasswd` basic
//! authentication (distribution's `auth: htpasswd`, with a bcrypt line written by Apache's
//! `htpasswd -B`), and serving HTTPS with a server certificate from a certificate authority made
//! for the test (the `openssl` command line). A TLS registry listens on `127.0.0.2`: Stella
//! speaks plain HTTP to `127.0.0.1` and `localhost`, HTTPS to any other host.
//!
//! Not here: what the tests check against it.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Where Debian installs the registry binary.
const BINARIES: [&str; 2] = ["/usr/bin/docker-registry", "/usr/sbin/docker-registry"];

/// The loopback address a TLS registry listens on (see the module documentation).
pub const TLS_ADDRESS: &str = "127.0.0.2";

/// How the registry is set up beyond the defaults (anonymous, plain HTTP on `127.0.0.1`).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Require HTTP basic authentication as this user name and password.
    pub basic_auth: Option<(String, String)>,
    /// Serve HTTPS on [`TLS_ADDRESS`] with a certificate from a CA made for the test (its PEM
    /// file is [`Registry::ca`]).
    pub tls: bool,
}

/// A running `docker-registry`, killed (and reaped) on drop.
#[derive(Debug)]
pub struct Registry {
    child: Child,
    /// `127.0.0.1:<port>` (or `127.0.0.2:<port>` with TLS).
    pub host: String,
    /// The PEM certificate of the CA that signed the registry's certificate, with TLS.
    pub ca: Option<PathBuf>,
}

impl Registry {
    /// Starts `docker-registry` on a free loopback port, storing into `dir/data`; `None` when it
    /// is not installed (the caller then [`skip`](crate::skip)s).
    ///
    /// # Panics
    /// When it is installed but cannot be started or does not answer within five seconds: the
    /// test fails rather than checking nothing.
    pub fn start(dir: &Path) -> Option<Registry> {
        Self::start_with(dir, &Options::default()).ok()
    }

    /// Starts `docker-registry` as `options` say, its files and storage in `dir`.
    ///
    /// # Errors
    /// What is not installed (`docker-registry`, `htpasswd`, `openssl`), as a reason for the
    /// caller's [`skip`](crate::skip).
    ///
    /// # Panics
    /// When everything is installed but the registry cannot be set up, or does not answer
    /// within five seconds: the test fails rather than checking nothing.
    // Failing the calling test is how a broken peer is reported.
    #[allow(clippy::panic, clippy::expect_used)]
    pub fn start_with(dir: &Path, options: &Options) -> Result<Registry, String> {
        let binary = BINARIES
            .into_iter()
            .find(|p| Path::new(p).exists())
            .ok_or("docker-registry is not installed (apt-get install docker-registry)")?;
        let address = if options.tls {
            TLS_ADDRESS
        } else {
            "127.0.0.1"
        };
        let port = TcpListener::bind((address, 0))
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let host = format!("{address}:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {host}\n",
            dir.join("data").display()
        );
        let mut ca = None;
        if options.tls {
            let (ca_file, certificate, key) = tls_files(dir, address)?;
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                certificate.display(),
                key.display()
            ));
            ca = Some(ca_file);
        }
        if let Some((user, password)) = &options.basic_auth {
            let path = htpasswd_file(dir, user, password)?;
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: stella-test\n    path: {}\n",
                path.display()
            ));
        }
        let config_path = dir.join("registry.yml");
        std::fs::write(&config_path, config).expect("registry config written");
        let child = Command::new(binary)
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry starts");
        let registry = Registry { child, host, ca };
        for _ in 0..100 {
            let ready = if options.tls {
                TcpStream::connect(&registry.host).is_ok()
            } else {
                answers_v2(&registry.host)
            };
            if ready {
                return Ok(registry);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("docker-registry did not answer on {}", registry.host);
    }
}

/// Runs `command`; `Err` naming it when it is not installed.
///
/// # Panics
/// When it runs and fails.
#[allow(clippy::panic)]
fn run(command: &mut Command, install: &str) -> Result<Vec<u8>, String> {
    let shown = format!("{command:?}");
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{shown} cannot run ({e}): {install}"))?;
    if !output.status.success() {
        panic!(
            "{shown} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(output.stdout)
}

/// `dir/htpasswd` with a bcrypt line for `user` and `password`, as `htpasswd -B` writes it.
#[allow(clippy::expect_used)]
fn htpasswd_file(dir: &Path, user: &str, password: &str) -> Result<PathBuf, String> {
    let line = run(
        Command::new("htpasswd").args(["-B", "-b", "-n", user, password]),
        "apt-get install apache2-utils",
    )?;
    let path = dir.join("htpasswd");
    std::fs::write(&path, line).expect("htpasswd written");
    Ok(path)
}

/// A CA (`dir/tls/ca.pem`) and a server certificate and key for the IP address `address`
/// signed by it: (CA, certificate, key).
#[allow(clippy::expect_used)]
fn tls_files(dir: &Path, address: &str) -> Result<(PathBuf, PathBuf, PathBuf), String> {
    const INSTALL: &str = "apt-get install openssl";
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).expect("tls directory");
    let p256 = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(
        Command::new("openssl")
            .current_dir(&tls)
            .args(["req", "-x509"])
            .args(p256)
            .args(["-keyout", "ca.key", "-out", "ca.pem", "-days", "2"])
            .args(["-subj", "/CN=Stella test CA"])
            .args(["-addext", "basicConstraints=critical,CA:TRUE"])
            .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]),
        INSTALL,
    )?;
    run(
        Command::new("openssl")
            .current_dir(&tls)
            .args(["req", "-new"])
            .args(p256)
            .args(["-keyout", "server.key", "-out", "server.csr"])
            .args(["-subj", &format!("/CN={address}")]),
        INSTALL,
    )?;
    std::fs::write(
        tls.join("server.ext"),
        format!(
            "subjectAltName=IP:{address}\nbasicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        ),
    )
    .expect("extensions written");
    run(
        Command::new("openssl")
            .current_dir(&tls)
            .args(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem"])
            .args(["-CAkey", "ca.key", "-CAcreateserial", "-days", "2"])
            .args(["-out", "server.pem", "-extfile", "server.ext"]),
        INSTALL,
    )?;
    Ok((
        tls.join("ca.pem"),
        tls.join("server.pem"),
        tls.join("server.key"),
    ))
}

/// Whether `GET /v2/` on `host` answers 200, or 401 when it asks for credentials (plain
/// HTTP/1.0, so no client library is needed).
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
    stream.read_exact(&mut head).is_ok() && (head.ends_with(b" 200") || head.ends_with(b" 401"))
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
