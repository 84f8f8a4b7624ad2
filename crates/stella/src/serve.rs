//! `stella serve` and its tokens: wiring [`stella_server::FleetServer`] to the command line.
//!
//! Not here: the routes and their rules (`stella-server::fleet`), the state (`stella-store`).

use std::io::{Read as _, Write as _};
use std::path::Path;

use anyhow::anyhow;
use stella_store::fleet::Scope;

use crate::advisories;
use crate::cli::{DbArgs, ServeArgs, ServeCommand};
use crate::exit::{CliError, Outcome};

pub fn run(args: ServeArgs, home: &Path) -> Result<Outcome, CliError> {
    match args.command {
        Some(command) => tokens(command, home),
        None => serve(args, home),
    }
}

fn database_url(db: &DbArgs, home: &Path) -> Result<String, CliError> {
    match &db.db {
        Some(url) => Ok(url.clone()),
        None => {
            std::fs::create_dir_all(home)
                .map_err(|e| CliError::environment(anyhow!("creating {}: {e}", home.display())))?;
            Ok(format!("sqlite://{}", home.join("stella.db").display()))
        }
    }
}

fn serve(args: ServeArgs, home: &Path) -> Result<Outcome, CliError> {
    let db = database_url(&args.db, home)?;
    let reactor: Option<std::sync::Arc<dyn stella_server::Reactor>> = match &args.store {
        Some(text) => {
            let store = stella_oci::Reference::parse(text)
                .map_err(|e| CliError::kinded(e).context(format!("--store {text}")))?;
            // The signing key opens now: a reaction must not be the first to ask for it.
            crate::attest::scan_key(args.sign_key.as_deref(), home)?;
            Some(std::sync::Arc::new(crate::react::AssessReactor::new(
                store,
                db.clone(),
                home.to_owned(),
                args.key.clone(),
                args.trusted_root.clone(),
                args.sign_key.clone(),
                args.advisories.clone(),
                args.author.clone(),
                args.insecure,
            )))
        }
        None => None,
    };
    let reacting = reactor.is_some();
    let server = stella_server::FleetServer::bind(&stella_server::FleetOptions {
        db: db.clone(),
        addr: args.addr,
        log: args.log.map(|dir| (dir, args.log_origin, 4096)),
        insecure_loopback: args.insecure_loopback,
        max_push_bytes: args.max_push_bytes,
        reactor,
    })
    .map_err(|e| CliError::kinded(e).context(redact(&db)))?;
    // Written even when nobody reads stderr any more (a closed pipe is not a reason to stop).
    let _ = writeln!(
        std::io::stderr(),
        "serving the fleet API on http://{} (database {}){}{}",
        server.local_addr(),
        redact(&db),
        if args.insecure_loopback {
            ", without tokens (--insecure-loopback)"
        } else {
            ""
        },
        match (&args.store, reacting) {
            (Some(store), true) => format!("; pushes re-decide the verdicts of images in {store}"),
            _ => String::new(),
        }
    );
    server.run().map_err(CliError::kinded)?;
    let _ = writeln!(std::io::stderr(), "server stopped");
    Ok(Outcome::Success)
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user = &url[scheme + 3..at];
            match user.split_once(':') {
                Some((name, _)) => format!("{}{name}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn tokens(command: ServeCommand, home: &Path) -> Result<Outcome, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::environment(anyhow!("starting the database runtime: {e}")))?;
    runtime.block_on(async {
        let now = stella_core::time::rfc3339_utc(jiff::Timestamp::now().as_second());
        match command {
            ServeCommand::Token {
                agent,
                node,
                read,
                output,
                db,
            } => {
                let store = advisories::open(&db, home).await?;
                let scope = if read { Scope::Read } else { Scope::Ingest };
                if let Some(agent) = &agent {
                    store
                        .register_agent(agent, node.as_deref().unwrap_or(agent), &now)
                        .await
                        .map_err(CliError::kinded)?;
                }
                let token = stella_server::fleet::mint_token(scope)
                    .map_err(|e| CliError::environment(anyhow!("minting a token: {e}")))?;
                store
                    .add_token(&token, scope, agent.as_deref(), &now)
                    .await
                    .map_err(CliError::kinded)?;
                store.close().await;
                let line = format!("{token}\n");
                match output {
                    Some(path) => crate::output::write_private_atomically_with(&path, |file| {
                        file.write_all(line.as_bytes()).map_err(|e| {
                            CliError::environment(anyhow!("writing {}: {e}", path.display()))
                        })
                    })?,
                    None => crate::output::write_stdout(line.as_bytes())?,
                }
                Ok(Outcome::Success)
            }
            ServeCommand::Revoke { file, db } => {
                let mut text = String::new();
                if file.as_os_str() == "-" {
                    std::io::stdin()
                        .take(4096)
                        .read_to_string(&mut text)
                        .map_err(|e| CliError::input(anyhow!("reading the token: {e}")))?;
                } else {
                    text = std::fs::read_to_string(&file)
                        .map_err(|e| CliError::input(anyhow!("reading {}: {e}", file.display())))?;
                }
                let store = advisories::open(&db, home).await?;
                let revoked = store
                    .revoke_token(text.trim(), &now)
                    .await
                    .map_err(CliError::kinded)?;
                store.close().await;
                if revoked {
                    let _ = writeln!(std::io::stderr(), "token revoked");
                    Ok(Outcome::Success)
                } else {
                    Err(CliError::input(anyhow!(
                        "no such token (unknown, or revoked before)"
                    )))
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::redact;

    /// The container arguments of every manifest in `deploy/`, as a `stella` command line.
    fn manifest_commands() -> Vec<(String, Vec<String>)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
        let mut found = Vec::new();
        let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        files.sort_by_key(std::fs::DirEntry::path);
        for file in files {
            let text = std::fs::read_to_string(file.path()).unwrap();
            for doc in yaml_rust2::YamlLoader::load_from_str(&text).unwrap() {
                let containers = &doc["spec"]["template"]["spec"]["containers"];
                for container in containers.as_vec().into_iter().flatten() {
                    let args: Vec<String> = container["args"]
                        .as_vec()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_str().unwrap().replace("$(NODE_NAME)", "node-1"))
                        .collect();
                    found.push((file.path().display().to_string(), args));
                }
            }
        }
        found
    }

    #[test]
    fn the_deploy_manifests_run_commands_this_build_accepts() {
        let commands = manifest_commands();
        let verbs: Vec<&str> = commands.iter().map(|(_, a)| a[0].as_str()).collect();
        assert_eq!(verbs, ["agent", "serve"]);
        for (file, args) in commands {
            let line = std::iter::once("stella".to_owned()).chain(args);
            if let Err(e) = crate::grammar::definition().try_get_matches_from(line) {
                panic!("{file}: {e}");
            }
        }
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redact("postgres://stella:s3cret@db:5432/x"),
            "postgres://stella:***@db:5432/x"
        );
        assert_eq!(redact("postgres://stella@db/x"), "postgres://stella@db/x");
        assert_eq!(redact("sqlite:///a/b.db"), "sqlite:///a/b.db");
    }
}
