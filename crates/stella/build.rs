//! Build information for `stella version`: the commit the binary was built from (read from the
//! repository's `.git` without running git; `unknown` outside a checkout), the compiler, the
//! target and the profile.

use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let git = manifest.join("../../.git");
    println!("cargo:rustc-env=STELLA_COMMIT={}", commit(&git));
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = std::process::Command::new(rustc)
        .arg("-V")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "unknown".to_owned(), |v| v.trim().to_owned());
    println!("cargo:rustc-env=STELLA_RUSTC={version}");
    for var in ["TARGET", "PROFILE"] {
        let value = std::env::var(var).unwrap_or_else(|_| "unknown".to_owned());
        println!("cargo:rustc-env=STELLA_{var}={value}");
    }
}

/// The commit `HEAD` names, following one symbolic ref (loose or packed); `unknown` when there
/// is no readable checkout.
fn commit(git: &Path) -> String {
    let head_path = git.join("HEAD");
    println!("cargo:rerun-if-changed={}", head_path.display());
    let Ok(head) = std::fs::read_to_string(&head_path) else {
        return "unknown".to_owned();
    };
    let head = head.trim();
    let Some(reference) = head.strip_prefix("ref: ") else {
        return head.to_owned();
    };
    let loose = git.join(reference);
    println!("cargo:rerun-if-changed={}", loose.display());
    if let Ok(id) = std::fs::read_to_string(&loose) {
        return id.trim().to_owned();
    }
    let packed = git.join("packed-refs");
    println!("cargo:rerun-if-changed={}", packed.display());
    std::fs::read_to_string(&packed)
        .ok()
        .and_then(|text| {
            text.lines()
                .filter_map(|l| l.split_once(' '))
                .find(|(_, name)| *name == reference)
                .map(|(id, _)| id.to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
