//! What a newcomer meets: the README's two set-up commands, its tour of the commands, and the
//! first error messages. The README is the contract here: what it shows must be what the CLI
//! takes.

use std::path::PathBuf;

use assert_cmd::Command;
use predicates::prelude::*;

fn stella() -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG").env_remove("STELLA_HOME");
    cmd
}

fn readme() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    std::fs::read_to_string(&path).expect("README.md at the repository root")
}

/// The text of the `## heading` section, up to the next `## `.
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let start = text
        .find(&format!("\n## {heading}"))
        .unwrap_or_else(|| panic!("README has no section {heading:?}"));
    let rest = &text[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    &rest[..end]
}

/// The commands of the ```sh blocks in `text`: continuation lines joined, comments and blank
/// lines dropped.
fn shell_commands(text: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_block = line == "```sh";
            continue;
        }
        if !in_block {
            continue;
        }
        let line = strip_comment(line).trim_end();
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            continue;
        }
        pending.push_str(line);
        if !pending.trim().is_empty() {
            commands.push(pending.trim().to_owned());
        }
        pending.clear();
    }
    commands
}

/// `line` without a `# comment` that starts outside quotes.
fn strip_comment(line: &str) -> &str {
    let (mut single, mut double) = (false, false);
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && previous.is_whitespace() => return &line[..i],
            _ => {}
        }
        previous = c;
    }
    line
}

/// Shell words of a simple command line, with `&&`, `|` and `;` as separate words. Quotes are
/// removed; `$(…)` stays inside its word.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => quote = Some(c),
            (None, c) if c.is_whitespace() => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            (None, '|' | ';') => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                out.push(c.to_string());
            }
            (None, '&') if chars.peek() == Some(&'&') => {
                chars.next();
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                out.push("&&".to_owned());
            }
            (None, c) => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The simple commands of a line (split at `&&`, `|`, `;`), redirections removed.
fn simple_commands(line: &str) -> Vec<Vec<String>> {
    let mut commands = vec![Vec::new()];
    let mut words = words(line).into_iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "&&" | "|" | ";" => commands.push(Vec::new()),
            ">" | "<" | "2>" => {
                words.next();
            }
            _ => commands.last_mut().expect("one command").push(word),
        }
    }
    commands.retain(|c| !c.is_empty());
    commands
}

#[test]
fn setup_is_two_commands_that_show_the_build_and_put_stella_on_the_path() {
    let readme = readme();
    let setup = section(&readme, "Set up");
    let commands = shell_commands(setup);
    assert_eq!(commands.len(), 2, "the set-up commands: {commands:#?}");
    assert!(
        setup.contains("../shared"),
        "the set-up says the tests need ../shared beside the clone"
    );
    let main_job = simple_commands(&commands[0]);
    let build = main_job
        .iter()
        .position(|c| c[0] == "cargo" && c.iter().any(|w| w == "--release"))
        .expect("the main job builds the release binary");
    // A silent release build of several minutes looks like a hang.
    for quiet in ["-q", "--quiet"] {
        assert!(
            !main_job[build].iter().any(|w| w == quiet),
            "the build hides its progress: {:?}",
            main_job[build]
        );
    }
    // Every `stella` of the main job (and of the tour after it, in the same shell) must be found:
    // the build puts target/release on the PATH first.
    let on_path = main_job
        .iter()
        .position(|c| {
            c[0] == "export"
                && c.get(1)
                    .is_some_and(|w| w.starts_with("PATH=") && w.contains("target/release"))
        })
        .expect("the main job puts target/release on the PATH");
    let first_stella = main_job
        .iter()
        .position(|c| c[0] == "stella")
        .expect("the main job runs stella");
    assert!(build < on_path && on_path < first_stella, "{main_job:?}");
    assert_eq!(commands[1], "bash .ci/run");
}

/// Every `stella …` line of the README parses: the subcommands and flags exist and the values
/// it shows are accepted. Appending `--help` stops clap before it needs the files the lines
/// name, but after it has read every flag and value before it.
#[test]
fn every_stella_command_in_the_readme_parses() {
    let readme = readme();
    let mut checked = 0;
    for line in shell_commands(&readme) {
        for command in simple_commands(&line) {
            if command[0] != "stella" {
                continue;
            }
            let args: Vec<&str> = command[1..].iter().map(String::as_str).collect();
            stella()
                .args(&args)
                .arg("--help")
                .assert()
                .append_context("README line", line.clone())
                .success()
                .stdout(predicate::str::contains("Usage: stella"));
            checked += 1;
        }
    }
    assert!(
        checked >= 40,
        "only {checked} stella commands found in the README"
    );
}

/// A missing file is named once with its reason once (it read "No such file or directory (os
/// error 2): No such file or directory (os error 2)").
#[test]
fn a_missing_file_is_named_once_with_its_reason_once() {
    for args in [
        &["sbom", "id", "/nonexistent/bom.json"][..],
        &["funcproof", "/nonexistent/bom.json"],
        &["key", "public", "--key", "/nonexistent/bom.json"],
    ] {
        stella()
            .args(args)
            .assert()
            .code(2)
            .stderr("error: /nonexistent/bom.json: No such file or directory (os error 2)\n");
    }
}
