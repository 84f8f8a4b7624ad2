//! `stella`: the command-line interface. It parses arguments, sets up logging, reads inputs within
//! their limits, calls the library crates and turns their results into output and exit codes
//! (0 success, 1 a clean "no", 2 bad input or usage, 3 environment). Domain logic lives in the
//! library crates, never here.

mod attest;
mod bars;
mod cli;
mod exit;
mod funcproof;
mod input;
mod log;
mod oci;
mod output;
mod registry;
mod runtime;
mod sbom;
mod scan;
mod serve;
mod verify_image;

use std::io::Write as _;
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser as _};
use tracing_subscriber::EnvFilter;

use cli::{Cli, Command};
use exit::{CliError, Outcome};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
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
    init_logging(cli.global.verbose, cli.global.quiet);
    tracing::debug!(home = %cli.global.home.display(), "evidence home");
    match run(cli) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(exit::FAILED),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {:#}", e.error);
            ExitCode::from(e.code)
        }
    }
}

fn run(cli: Cli) -> Result<Outcome, CliError> {
    match cli.command {
        Command::Sbom(cmd) => sbom::run(cmd),
        Command::Funcproof(args) => funcproof::run(args),
        Command::Key(cmd) => attest::key(cmd),
        Command::Attest(args) => attest::attest(args, &cli.global.home),
        Command::VerifyAttestation(args) => attest::verify(args, &cli.global.home),
        Command::Log(cmd) => log::run(cmd, &cli.global.home),
        Command::Oci(args) => oci::run(args.command, args.insecure),
        Command::Scan(args) => scan::run(args, &cli.global.home),
        Command::Verify(args) => verify_image::run(args, &cli.global.home),
        Command::Record(args) => runtime::record(args, &cli.global.home),
        Command::Witness(args) => runtime::witness(args, &cli.global.home),
        Command::Symbolize(args) => runtime::symbolize(args, &cli.global.home),
        Command::Predicates { name, json } => attest::predicates(name.as_deref(), json),
        Command::Completions { shell } => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "stella", &mut std::io::stdout());
            Ok(Outcome::Success)
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
        .with_target(false)
        .init();
}

/// `verify --image` parses and re-serialises hundreds of thousands of small JSON values across
/// threads; with glibc's allocator a third of its time went to `malloc`/`free`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
