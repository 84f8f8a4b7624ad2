//! Registries as people have them configured: a real `docker-registry` behind htpasswd basic
//! authentication and HTTPS with a certificate from a test CA, reached by `stella oci` with
//! credentials that come only from a credential helper (a shell script on `PATH`) named by
//! `credsStore` or `credHelpers`, and the CA given by `--ca-file`, `STELLA_CA_FILE` or
//! `SSL_CERT_FILE`. Wrong passwords, hanging or failing helpers and an untrusted certificate
//! are precise errors, with exit 3 and nothing secret printed.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{Value, json};
use stella_testkit::registry::{Options, Registry};

const USER: &str = "stella-ci";
const PASSWORD: &str = "pw-7f3a9c-secret";

/// An authenticating HTTPS registry in `dir`, or `None` after saying the test checked nothing.
fn registry(dir: &Path, test: &str) -> Option<Registry> {
    let options = Options {
        basic_auth: Some((USER.to_owned(), PASSWORD.to_owned())),
        tls: true,
    };
    match Registry::start_with(dir, &options) {
        Ok(registry) => Some(registry),
        Err(why) => {
            stella_testkit::skip(test, &why);
            None
        }
    }
}

/// The helpers on the test's `PATH`: `docker-credential-test` answers the right password for
/// `host` and "not found" for any other server; `-wrong` a wrong one; `-hang` never answers;
/// `-broken` fails; `-token` answers an identity token the registry does not take.
fn helpers(dir: &Path, host: &str) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let write = |name: &str, body: &str| {
        let path = bin.join(format!("docker-credential-{name}"));
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("helper");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    };
    write(
        "test",
        &format!(
            r#"[ "$1" = get ] || exit 2
read server
if [ "$server" = "{host}" ]; then
  printf '{{"ServerURL":"%s","Username":"{USER}","Secret":"{PASSWORD}"}}\n' "$server"
else
  echo "credentials not found in native keychain"; exit 1
fi"#
        ),
    );
    write(
        "wrong",
        &format!(r#"cat >/dev/null; echo '{{"Username":"{USER}","Secret":"wrong-pw-5d1e"}}'"#),
    );
    write("hang", "exec sleep 600");
    write("broken", "echo 'the keychain is locked' >&2; exit 4");
    write(
        "token",
        r#"cat >/dev/null; echo '{"Username":"<token>","Secret":"refresh-9"}'"#,
    );
    bin
}

/// `DOCKER_CONFIG` directory holding `config`.
fn docker_config(dir: &Path, name: &str, config: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(&path).expect("mkdir");
    std::fs::write(path.join("config.json"), config.to_string()).expect("config");
    path
}

/// `stella` with `PATH` starting at `bin`, the Docker config `docker`, and no other credentials.
fn stella(bin: &Path, docker: &Path) -> Command {
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG")
        .env_remove("STELLA_HOME")
        .env_remove("STELLA_CA_FILE")
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .env("PATH", path)
        .env("DOCKER_CONFIG", docker)
        .env("STELLA_OCI_TIMEOUT", "20");
    cmd
}

/// A layout with the image tagged `app`, and its reference.
fn layout(dir: &Path) -> String {
    let layout = dir.join("layout");
    crate::oci::image(&layout);
    format!("oci-layout:{}:app", layout.display())
}

fn stderr_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stderr).into_owned()
}

#[test]
fn push_and_pull_with_credentials_from_a_helper_named_by_creds_store_or_cred_helpers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let test = "push_and_pull_with_credentials_from_a_helper_named_by_creds_store_or_cred_helpers";
    let Some(registry) = registry(d, test) else {
        return;
    };
    let host = registry.host.clone();
    let ca = registry.ca.clone().expect("CA file");
    let bin = helpers(d, &host);
    let source = layout(d);
    let evidence = d.join("evidence.json");
    std::fs::write(&evidence, br#"{"n":1}"#).expect("write");

    let store = docker_config(d, "store", &json!({"credsStore": "test"}));
    let per_host = docker_config(
        d,
        "per-host",
        // The host's own helper wins over the store's, which would fail.
        &json!({"credHelpers": {host.clone(): "test"}, "credsStore": "broken"}),
    );
    for (i, docker) in [store, per_host].iter().enumerate() {
        let remote = format!("{host}/evidence/app{i}:app");
        stella(&bin, docker)
            .arg("--ca-file")
            .arg(&ca)
            .args(["oci", "copy", &source, &remote])
            .assert()
            .success();
        let pushed = stella(&bin, docker)
            .env("STELLA_CA_FILE", &ca)
            .args(["-vv", "oci", "attach", "--image", &remote])
            .args([
                "--artifact-type",
                "application/vnd.stellaops.funcproof+json",
            ])
            .arg(&evidence)
            .assert()
            .success();
        assert!(
            !stderr_of(&pushed).contains(PASSWORD),
            "{}",
            stderr_of(&pushed)
        );
        let listed = stella(&bin, docker)
            .arg("--ca-file")
            .arg(&ca)
            .args(["oci", "referrers", "--json", &remote])
            .assert()
            .success();
        let tree: Value =
            serde_json::from_slice(&listed.get_output().stdout).expect("referrers json");
        let referrers = tree["referrers"].as_array().expect("referrers");
        assert_eq!(referrers.len(), 1, "{tree}");
        assert_eq!(
            referrers[0]["artifactType"],
            "application/vnd.stellaops.funcproof+json"
        );
    }

    // SSL_CERT_FILE replaces the system's roots, as for OpenSSL.
    let store = d.join("store");
    stella(&bin, &store)
        .env("SSL_CERT_FILE", &ca)
        .args(["oci", "referrers", &format!("{host}/evidence/app0:app")])
        .assert()
        .success();
}

#[test]
fn refused_missing_failing_and_hanging_credentials_are_precise_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let test = "refused_missing_failing_and_hanging_credentials_are_precise_errors";
    let Some(registry) = registry(d, test) else {
        return;
    };
    let host = registry.host.clone();
    let ca = registry.ca.clone().expect("CA file");
    let bin = helpers(d, &host);
    let source = layout(d);
    let remote = format!("{host}/evidence/app:app");
    let copy = |docker: &Path| {
        let mut cmd = stella(&bin, docker);
        cmd.arg("--ca-file")
            .arg(&ca)
            .args(["oci", "copy", &source, &remote]);
        cmd
    };

    // A wrong password: the registry's 401, and where the password came from, never what it is.
    let wrong = docker_config(d, "wrong", &json!({"credsStore": "wrong"}));
    let refused = copy(&wrong).assert().code(3);
    let said = stderr_of(&refused);
    assert!(said.contains("HTTP 401"), "{said}");
    assert!(
        said.contains(&format!(
            "the credentials for {host} from credential helper docker-credential-wrong \
             (credsStore in {}) were refused",
            wrong.join("config.json").display()
        )),
        "{said}"
    );
    assert!(!said.contains("wrong-pw-5d1e"), "{said}");

    // No credentials anywhere: said where they were looked for. The store's helper has none
    // for this host (another host's helper is not asked).
    let elsewhere = docker_config(
        d,
        "elsewhere",
        &json!({"credHelpers": {"other.example:5000": "broken"}, "credsStore": "test"}),
    );
    std::fs::write(
        bin.join("docker-credential-test"),
        "#!/bin/sh\necho 'credentials not found in native keychain'\nexit 1\n",
    )
    .expect("rewrite helper");
    let refused = copy(&elsewhere).assert().code(3);
    let said = stderr_of(&refused);
    assert!(
        said.contains(&format!(
            "HTTP 401: no credentials for {host} (looked in {})",
            elsewhere.join("config.json").display()
        )),
        "{said}"
    );

    // A helper that fails: named, with what it said.
    let broken = docker_config(
        d,
        "broken",
        &json!({"credHelpers": {host.clone(): "broken"}}),
    );
    let refused = copy(&broken).assert().code(3);
    let said = stderr_of(&refused);
    assert!(
        said.contains(&format!(
            "credential helper docker-credential-broken for {host} failed (exit status: 4): \
             the keychain is locked"
        )),
        "{said}"
    );

    // A helper that never answers: killed at the timeout, the command fails within it.
    let hang = docker_config(d, "hang", &json!({"credsStore": "hang"}));
    let started = Instant::now();
    let refused = copy(&hang)
        .env("STELLA_CREDENTIAL_HELPER_TIMEOUT", "1")
        .timeout(Duration::from_secs(30))
        .assert()
        .code(3);
    let took = started.elapsed();
    let said = stderr_of(&refused);
    assert!(
        said.contains(&format!(
            "credential helper docker-credential-hang for {host} did not answer within 1 s and \
             was killed"
        )),
        "{said}"
    );
    assert!(took < Duration::from_secs(8), "took {took:?}: {said}");

    // An identity token where the registry wants a password: basic auth has nothing to send.
    let token = docker_config(d, "token", &json!({"credsStore": "token"}));
    let said = stderr_of(&copy(&token).assert().code(3));
    assert!(said.contains("HTTP 401"), "{said}");
    assert!(!said.contains("refresh-9"), "{said}");
}

#[test]
fn an_untrusted_certificate_is_refused_naming_the_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let Some(registry) = registry(d, "an_untrusted_certificate_is_refused_naming_the_problem")
    else {
        return;
    };
    let host = registry.host.clone();
    let bin = helpers(d, &host);
    let docker = docker_config(d, "store", &json!({"credsStore": "test"}));
    let remote = format!("{host}/evidence/app:app");
    let started = Instant::now();
    let refused = stella(&bin, &docker)
        .args(["oci", "referrers", &remote])
        .assert()
        .code(3);
    let said = stderr_of(&refused);
    assert!(
        said.contains("the registry's TLS certificate is not accepted"),
        "{said}"
    );
    assert!(
        said.contains("invalid peer certificate: UnknownIssuer"),
        "{said}"
    );
    // Not retried: a certificate does not get better by asking again.
    assert!(started.elapsed() < Duration::from_secs(3), "{said}");

    // A CA file that is no certificate: bad input naming it.
    let bogus = d.join("bogus.pem");
    std::fs::write(&bogus, b"-----BEGIN NOTHING-----\n").expect("write");
    let refused = stella(&bin, &docker)
        .arg("--ca-file")
        .arg(&bogus)
        .args(["oci", "referrers", &remote])
        .assert()
        .code(2);
    assert!(
        stderr_of(&refused).contains(&format!("CA file {}", bogus.display())),
        "{}",
        stderr_of(&refused)
    );
    // The right one: through.
    stella(&bin, &docker)
        .arg("--ca-file")
        .arg(registry.ca.as_ref().expect("CA"))
        .args(["oci", "copy", &layout(d), &remote])
        .assert()
        .success()
        .stderr(predicate::str::contains(PASSWORD).not());
}
