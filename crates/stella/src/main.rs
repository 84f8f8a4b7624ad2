//! `stella`: the command-line interface. It parses arguments, sets up logging, reads inputs within
//! their limits, calls the library crates and turns their results into output and exit codes
//! (0 success, 1 a clean "no", 2 bad input or usage, 3 environment). Domain logic lives in the
//! library crates, never here.

mod about;
mod advisories;
mod agent;
mod assess;
mod attest;
mod audit;
mod bars;
mod cli;
mod config;
mod exit;
mod flame;
mod funcproof;
mod grammar;
mod input;
mod log;
mod oci;
mod output;
mod print;
mod react;
mod report;
mod runtime;
mod sbom;
mod scan;
mod score;
mod serve;
mod trust;
mod verify_bundle;
mod verify_image;
mod vex;

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;

use clap::FromArgMatches as _;
use tracing_subscriber::EnvFilter;

use cli::{Cli, Command};
use exit::{CliError, Outcome};

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let definition = grammar::definition();
    // The configuration file's settings become the arguments' defaults, below the command line
    // and the environment.
    let loaded = match config::load(&args, &definition) {
        Ok(loaded) => loaded,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {}", print::error_line(&e.error));
            return ExitCode::from(e.code);
        }
    };
    let definition = config::apply(definition, &loaded.settings);
    let parsed = definition
        .clone()
        .try_get_matches_from(&args)
        .and_then(|matches| {
            // `-o json` where the command has only --json: parsed again with --json.
            if grammar::report_json_asked(&matches) {
                definition.try_get_matches_from(grammar::with_json(&args))
            } else {
                Ok(matches)
            }
        })
        .and_then(|matches| Cli::from_arg_matches(&matches));
    let mut cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version on stdout with exit 0, usage errors on stderr; usage
            // errors take the contract's "bad input or usage" code.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(exit::USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if let Err(e) = grammar::normalise(&mut cli.command) {
        let _ = writeln!(std::io::stderr(), "error: {}", print::error_line(&e.error));
        return ExitCode::from(e.code);
    }
    init_logging(cli.global.verbose, cli.global.quiet);
    oci::trust_ca_files(cli.global.ca_file.clone());
    tracing::debug!(home = %cli.global.home.display(), "evidence home");
    match run(cli, &loaded) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(exit::FAILED),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {}", print::error_line(&e.error));
            ExitCode::from(e.code)
        }
    }
}

fn run(cli: Cli, loaded: &config::Loaded) -> Result<Outcome, CliError> {
    match cli.command {
        Command::Sbom(cmd) => sbom::run(cmd),
        Command::Vex(cmd) => vex::run(cmd, &cli.global.home),
        Command::Advisories(cmd) => advisories::run(cmd, &cli.global.home),
        Command::Assess(args) => assess::run(args, &cli.global.home),
        Command::Replay(args) => assess::replay(args, &cli.global.home),
        Command::Score(args) => score::run(args, &cli.global.home),
        Command::Funcproof(args) => funcproof::run(args),
        Command::Key(cmd) => attest::key(cmd),
        Command::Attest(args) => attest::attest(args, &cli.global.home),
        Command::VerifyAttestation(args) => attest::verify(args, &cli.global.home),
        Command::VerifyBundle(args) => verify_bundle::run(args, &cli.global.home),
        Command::Log(cmd) => log::run(cmd, &cli.global.home),
        Command::Oci(args) => oci::run(args.command, args.insecure),
        Command::Scan(args) => scan::run(args, &cli.global.home),
        Command::Verify(args) => verify_image::run(args, &cli.global.home),
        Command::Audit(command) => audit::run(command, &cli.global.home),
        Command::Record(args) => runtime::record(args, &cli.global.home),
        Command::Witness(args) => runtime::witness(args, &cli.global.home),
        Command::Symbolize(args) => runtime::symbolize(args, &cli.global.home),
        Command::Report(args) => report::run(args, &cli.global.home),
        Command::Serve(args) => serve::run(args, &cli.global.home),
        Command::Agent(args) => agent::run(args, &cli.global.home),
        Command::Trust(command) => trust::run(command, &cli.global.home),
        Command::Predicates { name, json } => attest::predicates(name.as_deref(), json),
        Command::Version { json } => about::version(json),
        Command::Man { output } => about::man(&output),
        Command::Config(cli::ConfigCommand::Show { json }) => {
            config::show(loaded, &grammar::definition(), json)
        }
        Command::Completions { shell } => {
            // Into a buffer first: clap_complete panics when its writer fails, and a closed
            // pipe (`| head`) is the reader's choice, which `write_stdout` accepts.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut grammar::definition(), "stella", &mut script);
            output::write_stdout(&script).map(|()| Outcome::Success)
        }
    }
}

/// Logs go to stderr. `STELLA_LOG` (an `EnvFilter` directive such as `debug` or
/// `stella_sbom=trace`) wins over `-v` / `-q`.
fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_env("STELLA_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        .with_target(false)
        .init();
}

/// Colour only for a person at a terminal: a log in a file or a pipe (CI, `2>log`, `| less`)
/// gets no escape sequences, and a non-empty `NO_COLOR` turns colour off everywhere
/// (no-color.org).
fn colour(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(std::ffi::OsStr::is_empty)
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::colour;

    #[test]
    fn colour_only_at_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some(OsStr::new(""))));
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(false, None));
    }
}

/// `verify --image` parses and re-serialises hundreds of thousands of small JSON values across
/// threads; with glibc's allocator a third of its time went to `malloc`/`free`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
