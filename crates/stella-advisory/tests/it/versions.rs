//! Version ordering against the ecosystems' own tools, on pairs generated from the pieces each
//! ecosystem's versions are made of (seeded, so a failure replays): Debian against
//! `dpkg --compare-versions` itself, and every ecosystem against PyPI `univers`.

use std::cmp::Ordering;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use stella_advisory::version::{Ecosystem, compare};

/// A small deterministic generator (xorshift64*), so the pairs are the same on every run.
struct Pieces(u64);

impl Pieces {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

fn debian(p: &mut Pieces) -> String {
    let epoch = p.pick(&["", "", "", "1:", "2:"]);
    let mut upstream = p.pick(&["0", "1", "1", "2", "10", "01"]).to_owned();
    for _ in 0..(p.next() % 4) {
        upstream.push_str(p.pick(&[
            ".0", ".1", ".2", ".10", "~rc1", "~", "a", "b", "+dfsg", ".dfsg", "+b1", "~beta2",
        ]));
    }
    let revision = p.pick(&[
        "",
        "-1",
        "-2",
        "-1ubuntu1",
        "-0~",
        "-1+deb12u1",
        "-1~bpo11+1",
        "-10",
    ]);
    format!("{epoch}{upstream}{revision}")
}

fn pypi(p: &mut Pieces) -> String {
    let epoch = p.pick(&["", "", "", "1!"]);
    let release = p.pick(&["0", "1", "1.0", "1.0.0", "1.2", "2.0.1", "1.10"]);
    let pre = p.pick(&["", "", "a1", "b2", "rc1", "a10"]);
    let post = p.pick(&["", "", ".post1", ".post2"]);
    let dev = p.pick(&["", "", ".dev0", ".dev3"]);
    let local = p.pick(&["", "", "", "+local.1", "+abc"]);
    format!("{epoch}{release}{pre}{post}{dev}{local}")
}

fn semver(p: &mut Pieces) -> String {
    let release = p.pick(&["0.1.0", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0"]);
    let pre = p.pick(&[
        "",
        "",
        "-alpha",
        "-alpha.1",
        "-beta.2",
        "-rc.1",
        "-alpha.beta",
        "-1",
    ]);
    let build = p.pick(&["", "", "", "+build.5"]);
    format!("{release}{pre}{build}")
}

fn go(p: &mut Pieces) -> String {
    p.pick(&[
        "v0.0.0-20191109021931-daa7c04131f5",
        "v0.0.0-20200101000000-aaaaaaaaaaaa",
        "v0.1.0",
        "v0.1.1-0.20210101000000-bbbbbbbbbbbb",
        "v1.0.0",
        "v1.0.0-rc.1",
        "v1.2.3",
        "v1.10.0",
        "v2.0.0+incompatible",
        "v2.0.1",
    ])
    .to_owned()
}

fn pairs(seed: u64, count: usize, make: fn(&mut Pieces) -> String) -> Vec<(String, String)> {
    let mut p = Pieces(seed);
    (0..count).map(|_| (make(&mut p), make(&mut p))).collect()
}

fn sign(o: Ordering) -> &'static str {
    match o {
        Ordering::Less => "-1",
        Ordering::Equal => "0",
        Ordering::Greater => "1",
    }
}

#[test]
fn debian_versions_order_as_dpkg_orders_them() {
    if Command::new("dpkg").arg("--version").output().is_err() {
        stella_testkit::skip(
            "debian_versions_order_as_dpkg_orders_them",
            "dpkg is not installed (a Debian machine has it)",
        );
        return;
    }
    let pairs = pairs(0x5eed_0001, 1500, debian);
    let mut script = String::new();
    for (a, b) in &pairs {
        script.push_str(&format!(
            "if dpkg --compare-versions '{a}' lt '{b}'; then echo -1; \
             elif dpkg --compare-versions '{a}' eq '{b}'; then echo 0; else echo 1; fi\n"
        ));
    }
    let mut sh = Command::new("sh")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    sh.stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = sh.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "dpkg warned: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(theirs.len(), pairs.len());
    let mut differing = Vec::new();
    for ((a, b), dpkg) in pairs.iter().zip(theirs) {
        let ours = sign(compare(Ecosystem::Debian, a, b).unwrap());
        if ours != dpkg {
            differing.push(format!("{a} vs {b}: stella {ours}, dpkg {dpkg}"));
        }
    }
    assert!(differing.is_empty(), "{differing:#?}");
}

#[test]
fn every_ecosystem_orders_as_univers_does() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/version_order.py");
    let probe = Command::new("python3")
        .args(["-c", "import univers.versions"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        stella_testkit::skip(
            "every_ecosystem_orders_as_univers_does",
            "PyPI univers is not installed (python3 -m pip install -r interop/requirements.txt)",
        );
        return;
    }
    let mut cases: Vec<(Ecosystem, String, String)> = Vec::new();
    for (ecosystem, make, seed) in [
        (Ecosystem::Debian, debian as fn(&mut Pieces) -> String, 11),
        (Ecosystem::PyPi, pypi, 12),
        (Ecosystem::CratesIo, semver, 13),
        (Ecosystem::Go, go, 14),
    ] {
        for (a, b) in pairs(seed, 1000, make) {
            cases.push((ecosystem, a, b));
        }
    }
    let mut child = Command::new("python3")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let input: String = cases
        .iter()
        .map(|(e, a, b)| format!("{}\t{a}\t{b}\n", e.osv_name()))
        .collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let theirs: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(theirs.len(), cases.len());
    let mut differing = Vec::new();
    for ((e, a, b), univers) in cases.iter().zip(theirs) {
        let ours = sign(compare(*e, a, b).unwrap());
        if ours != univers {
            differing.push(format!("{e}: {a} vs {b}: stella {ours}, univers {univers}"));
        }
    }
    assert!(
        differing.is_empty(),
        "{} differ: {differing:#?}",
        differing.len()
    );
}
