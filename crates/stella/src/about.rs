//! `stella version` and `stella man`: what this build is, and its manual as man pages
//! generated from the command-line grammar (`crate::cli`), so the two never disagree. The
//! grammar itself lives in `crate::cli`; this module only renders it.

use std::path::Path;

use anyhow::anyhow;
use serde_json::json;

use crate::exit::{CliError, Outcome};
use crate::output::write_stdout;

/// `stella version`.
pub fn version(as_json: bool) -> Result<Outcome, CliError> {
    let predicates: Vec<&str> = stella_attest::predicates::REGISTRY
        .iter()
        .map(|p| p.uri)
        .collect();
    let info = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "commit": env!("STELLA_COMMIT"),
        "rustc": env!("STELLA_RUSTC"),
        "target": env!("STELLA_TARGET"),
        "profile": env!("STELLA_PROFILE"),
        "predicateTypes": predicates,
    });
    if as_json {
        crate::print::json(&crate::print::Schema::new("version"), &info)?;
        return Ok(Outcome::Success);
    }
    let text = format!(
        "stella {}\ncommit     {}\nrustc      {}\ntarget     {}\nprofile    {}\npredicates {}\n",
        env!("CARGO_PKG_VERSION"),
        env!("STELLA_COMMIT"),
        env!("STELLA_RUSTC"),
        env!("STELLA_TARGET"),
        env!("STELLA_PROFILE"),
        predicates.join("\n           "),
    );
    write_stdout(text.as_bytes())?;
    Ok(Outcome::Success)
}

/// `stella man -o DIR`: one page per command, named by its path (`stella-audit-export.1`).
pub fn man(dir: &Path) -> Result<Outcome, CliError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::input(anyhow!("-o {}: {e}", dir.display())))?;
    let mut command = crate::grammar::definition();
    command.build();
    let mut written = 0usize;
    write_pages(&command, "stella", dir, &mut written)?;
    eprintln!("{}: {written} man pages", dir.display());
    Ok(Outcome::Success)
}

/// Writes the page of `command` (named `name`) and of each of its subcommands.
fn write_pages(
    command: &clap::Command,
    name: &str,
    dir: &Path,
    written: &mut usize,
) -> Result<(), CliError> {
    let page = command.clone().display_name(name.to_owned());
    let mut roff = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut roff)
        .map_err(|e| CliError::environment(anyhow!("rendering the page of {name}: {e}")))?;
    let path = dir.join(format!("{name}.1"));
    crate::output::write_atomically(&path, &roff)?;
    *written += 1;
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}
