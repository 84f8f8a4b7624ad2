//! The optional configuration file, `stella.yaml`: defaults for any option of any command, below
//! the command line and the environment (flags > environment > file > built-in defaults).
//!
//! Where it is: `--config FILE` or `STELLA_CONFIG` (must exist), else the first of
//! `./stella.yaml` and `$XDG_CONFIG_HOME/stella/stella.yaml` (`~/.config/stella/stella.yaml`).
//! What it says: a map whose keys are long option names without the dashes, or command names
//! holding such a map for that command alone:
//!
//! ```yaml
//! home: /var/lib/stella          # any command that has --home
//! trusted-root: /etc/stella/trusted-root.json
//! scan:
//!   push: true
//! vex:
//!   merge:
//!     policy: /etc/stella/vex-policy.json
//! ```
//!
//! A key at the top names an option that some command has, and sets it for every command that
//! has it; a key inside a command's map must be one of that command's options or subcommands.
//! A name that is both a command and an option (`key`, `sbom`, `record`) is the command when
//! its value is a map, the option otherwise.
//! Any other key is an error naming it, never ignored. Values are scalars (strings, numbers,
//! booleans) or, for repeatable options, lists of scalars.
//!
//! It works by giving clap's arguments new default values before the command line is parsed,
//! so clap's own precedence (command line, then `env`, then default) is the documented one and
//! every value goes through the same parser as on the command line.
//!
//! Not here: what any option means (each command's module).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use clap::Command;
use yaml_rust2::{Yaml, YamlLoader};

use crate::exit::CliError;

/// Environment variable naming the configuration file.
pub const ENV: &str = "STELLA_CONFIG";
/// The file name looked for in the working directory and the user's configuration directory.
pub const FILE_NAME: &str = "stella.yaml";
/// A configuration file is small; anything larger is refused before parsing.
const MAX_BYTES: u64 = 1 << 20;

/// One setting of the file: where it applies, the option, its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The command path it applies to (empty: every command that has the option).
    pub scope: Vec<String>,
    /// The option's long name.
    pub option: String,
    /// Its value (several for a repeatable option).
    pub values: Vec<String>,
}

/// The configuration in effect: the file it came from and its settings.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// Its settings, in file order.
    pub settings: Vec<Setting>,
}

/// The file named by `--config` on the command line (`--config FILE` or `--config=FILE`), by
/// `STELLA_CONFIG`, or found in the usual places.
fn locate(args: &[OsString]) -> Result<Option<PathBuf>, CliError> {
    let mut named = None;
    let mut iter = args.iter().skip(1);
    while let Some(arg) = iter.next() {
        if arg == "--" {
            break;
        }
        if arg == "--config" {
            named = iter.next().map(PathBuf::from);
        } else if let Some(value) = arg.to_str().and_then(|a| a.strip_prefix("--config=")) {
            named = Some(PathBuf::from(value));
        }
    }
    let named = named.or_else(|| {
        std::env::var_os(ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    if let Some(path) = named {
        return if path.is_file() {
            Ok(Some(path))
        } else {
            Err(CliError::input(anyhow!(
                "{}: the configuration file (--config or {ENV}) does not exist or is not a file",
                path.display()
            )))
        };
    }
    let user_dir = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    let candidates = std::iter::once(PathBuf::from(FILE_NAME))
        .chain(user_dir.map(|d| d.join("stella").join(FILE_NAME)));
    Ok(candidates.into_iter().find(|p| p.is_file()))
}

/// Finds and reads the configuration file for this command line, checking every key against
/// `command` (the CLI's definition).
///
/// # Errors
/// A named file that does not exist, a file that is not YAML or too large, a key that is no
/// command's option, a value that is not a scalar or list of scalars: exit 2, naming the file
/// and the key.
pub fn load(args: &[OsString], command: &Command) -> Result<Loaded, CliError> {
    let Some(file) = locate(args)? else {
        return Ok(Loaded::default());
    };
    let settings = read(&file, command)?;
    Ok(Loaded {
        file: Some(file),
        settings,
    })
}

fn read(file: &Path, command: &Command) -> Result<Vec<Setting>, CliError> {
    let bad = |message: String| CliError::input(anyhow!("{}: {message}", file.display()));
    let meta = std::fs::metadata(file).map_err(|e| bad(e.to_string()))?;
    if meta.len() > MAX_BYTES {
        return Err(bad(format!(
            "{} bytes; a configuration file may hold at most {MAX_BYTES}",
            meta.len()
        )));
    }
    let text = std::fs::read_to_string(file).map_err(|e| bad(e.to_string()))?;
    parse(&text, command).map_err(bad)
}

/// The settings of a configuration document (`text`), checked against `command`.
///
/// # Errors
/// The first problem, naming the key's path (`scan.push`).
pub fn parse(text: &str, command: &Command) -> Result<Vec<Setting>, String> {
    let documents = YamlLoader::load_from_str(text).map_err(|e| format!("not YAML: {e}"))?;
    let root = match documents.as_slice() {
        [] => return Ok(Vec::new()),
        [Yaml::Null] => return Ok(Vec::new()),
        [root] => root,
        _ => return Err("several YAML documents; a configuration file holds one".to_owned()),
    };
    let mut settings = Vec::new();
    walk(root, command, &mut Vec::new(), &mut settings)?;
    Ok(settings)
}

fn key_path(scope: &[String], key: &str) -> String {
    scope
        .iter()
        .map(String::as_str)
        .chain(std::iter::once(key))
        .collect::<Vec<_>>()
        .join(".")
}

fn walk(
    node: &Yaml,
    command: &Command,
    scope: &mut Vec<String>,
    out: &mut Vec<Setting>,
) -> Result<(), String> {
    let Yaml::Hash(map) = node else {
        return Err(format!(
            "{}: expected a map of options and commands",
            if scope.is_empty() {
                "the document".to_owned()
            } else {
                scope.join(".")
            }
        ));
    };
    for (key, value) in map {
        let Yaml::String(key) = key else {
            return Err(format!(
                "{}: a key must be an option or command name",
                key_path(scope, &format!("{key:?}"))
            ));
        };
        let path = key_path(scope, key);
        // A name can be both a command and an option (`key`, `sbom`, `record`): a map is the
        // command's settings, anything else the option's value.
        if let (Some(sub), Yaml::Hash(_)) = (command.find_subcommand(key), value) {
            scope.push(sub.get_name().to_owned());
            walk(value, sub, scope, out)?;
            scope.pop();
            continue;
        }
        let known = if scope.is_empty() {
            any_command_has(command, key)
        } else {
            option(command, key).is_some()
        };
        if !known {
            return Err(format!(
                "unknown key {path:?}: {}",
                if scope.is_empty() {
                    "no command has this option, and it is no command".to_owned()
                } else {
                    format!(
                        "`stella {}` has no option --{key} and no such subcommand",
                        scope.join(" ")
                    )
                }
            ));
        }
        if key == "config" {
            return Err(format!(
                "{path}: the configuration file cannot name another one"
            ));
        }
        let values = values(value).map_err(|e| format!("{path}: {e}"))?;
        let arg = if scope.is_empty() {
            find_option(command, key)
        } else {
            option(command, key)
        };
        if let Some(arg) = arg {
            check_shape(arg, &values).map_err(|e| format!("{path}: --{key} {e}"))?;
        }
        out.push(Setting {
            scope: scope.clone(),
            option: key.clone(),
            values,
        });
    }
    Ok(())
}

fn values(value: &Yaml) -> Result<Vec<String>, String> {
    fn scalar(v: &Yaml) -> Result<String, String> {
        match v {
            Yaml::String(s) | Yaml::Real(s) => Ok(s.clone()),
            Yaml::Integer(i) => Ok(i.to_string()),
            Yaml::Boolean(b) => Ok(b.to_string()),
            Yaml::Null => Err("no value (null)".to_owned()),
            Yaml::Alias(_) => Err("YAML aliases are not read".to_owned()),
            _ => Err("expected a string, number or boolean".to_owned()),
        }
    }
    match value {
        Yaml::Array(items) => items.iter().map(scalar).collect(),
        other => scalar(other).map(|v| vec![v]),
    }
}

/// The argument of `command` whose long name is `name` (positionals have none).
fn option<'a>(command: &'a Command, name: &str) -> Option<&'a clap::Arg> {
    command.get_arguments().find(|a| a.get_long() == Some(name))
}

/// The first argument named `name` in `command` or any of its subcommands.
fn find_option<'a>(command: &'a Command, name: &str) -> Option<&'a clap::Arg> {
    option(command, name).or_else(|| command.get_subcommands().find_map(|s| find_option(s, name)))
}

/// Whether `values` fit the argument: several only for a repeatable option, a boolean for a
/// switch. (Every other check is the option's own parser, at parse time.)
fn check_shape(arg: &clap::Arg, values: &[String]) -> Result<(), String> {
    use clap::ArgAction;
    match arg.get_action() {
        ArgAction::SetTrue | ArgAction::SetFalse => match values {
            [v] if v == "true" || v == "false" => Ok(()),
            _ => Err("is a switch: true or false".to_owned()),
        },
        ArgAction::Count => match values {
            [v] if v.parse::<u8>().is_ok() => Ok(()),
            _ => Err("counts: a number".to_owned()),
        },
        ArgAction::Append => Ok(()),
        _ if values.len() > 1 => Err(format!("takes one value, not {}", values.len())),
        _ => Ok(()),
    }
}

fn any_command_has(command: &Command, name: &str) -> bool {
    option(command, name).is_some() || command.get_subcommands().any(|s| any_command_has(s, name))
}

/// `command` with the settings as its arguments' defaults: a setting with a scope applies to
/// that command, one without to every command that has the option. A scoped setting wins over
/// an unscoped one for the same option.
pub fn apply(mut command: Command, settings: &[Setting]) -> Command {
    let mut ordered: Vec<&Setting> = settings.iter().collect();
    // Unscoped first, so that a command's own setting is applied last and wins.
    ordered.sort_by_key(|s| !s.scope.is_empty());
    for setting in ordered {
        command = apply_one(command, setting, &setting.scope);
    }
    command
}

fn apply_one(mut command: Command, setting: &Setting, scope: &[String]) -> Command {
    match scope.split_first() {
        Some((first, rest)) => command.mut_subcommand(first, |sub| apply_one(sub, setting, rest)),
        None => {
            if let Some(id) = option(&command, &setting.option).map(|a| a.get_id().clone()) {
                let values: Vec<clap::builder::OsStr> = setting
                    .values
                    .iter()
                    .map(|v| clap::builder::OsStr::from(v.clone()))
                    .collect();
                command = command.mut_arg(id, |a| a.default_values(values));
            }
            if setting.scope.is_empty() {
                let names: Vec<String> = command
                    .get_subcommands()
                    .map(|s| s.get_name().to_owned())
                    .collect();
                for name in names {
                    command = command.mut_subcommand(name, |sub| apply_one(sub, setting, &[]));
                }
            }
            command
        }
    }
}

/// `stella config show [--json]`: the file in effect and each setting, with the environment
/// variable that overrides it where one is set.
pub fn show(
    loaded: &Loaded,
    command: &Command,
    as_json: bool,
) -> Result<crate::exit::Outcome, CliError> {
    let overridden_by = |s: &Setting| -> Option<String> {
        let mut c = command;
        for name in &s.scope {
            c = c.find_subcommand(name)?;
        }
        let env = find_env(c, &s.option)?;
        std::env::var_os(&env).map(|_| env)
    };
    if as_json {
        let settings: Vec<serde_json::Value> = loaded
            .settings
            .iter()
            .map(|s| {
                serde_json::json!({
                    "command": s.scope.join(" "),
                    "option": s.option,
                    "values": s.values,
                    "overriddenBy": overridden_by(s),
                })
            })
            .collect();
        return crate::print::json(
            &crate::print::Schema::new("config.show"),
            &serde_json::json!({
                "file": loaded.file.as_ref().map(|f| f.display().to_string()),
                "precedence": ["command line", "environment", "file", "built-in default"],
                "settings": settings,
            }),
        )
        .map(|()| crate::exit::Outcome::Success);
    }
    let mut text = match &loaded.file {
        Some(f) => format!("configuration file: {}\n", f.display()),
        None => format!(
            "configuration file: none (--config, {ENV}, ./{FILE_NAME}, \
             $XDG_CONFIG_HOME/stella/{FILE_NAME})\n"
        ),
    };
    text.push_str("precedence: command line > environment > file > built-in default\n");
    for s in &loaded.settings {
        let scope = if s.scope.is_empty() {
            "every command".to_owned()
        } else {
            format!("stella {}", s.scope.join(" "))
        };
        text.push_str(&format!(
            "  --{} = {}   ({scope}){}\n",
            s.option,
            s.values.join(", "),
            overridden_by(s)
                .map(|e| format!("; overridden by ${e}"))
                .unwrap_or_default()
        ));
    }
    crate::output::write_stdout(text.as_bytes()).map(|()| crate::exit::Outcome::Success)
}

/// The environment variable of `option`, in `command` or (for an unscoped setting) any of its
/// subcommands.
fn find_env(command: &Command, name: &str) -> Option<String> {
    option(command, name)
        .and_then(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .or_else(|| command.get_subcommands().find_map(|s| find_env(s, name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    fn cli() -> Command {
        crate::cli::Cli::command()
    }

    #[test]
    fn keys_are_options_or_commands_and_unknown_ones_are_named() {
        let settings = parse(
            "home: /srv/stella\nscan:\n  push: true\nvex:\n  merge:\n    policy: p.json\n",
            &cli(),
        )
        .expect("valid");
        assert_eq!(settings.len(), 3);
        assert_eq!(settings[1].scope, vec!["scan".to_owned()]);
        assert_eq!(settings[1].values, vec!["true".to_owned()]);
        assert_eq!(
            settings[2].scope,
            vec!["vex".to_owned(), "merge".to_owned()]
        );
        for (text, named) in [
            ("hom: x\n", "\"hom\""),
            ("scan:\n  pushh: true\n", "\"scan.pushh\""),
            ("scan: [1, 2]\n", "scan"),
            ("scan:\n  push: {a: 1}\n", "scan.push"),
            ("config: other.yaml\n", "config"),
            ("a: 1\n---\nb: 2\n", "several YAML documents"),
            ("scan:\n  push: [unclosed\n", "not YAML"),
        ] {
            let err = parse(text, &cli()).expect_err(text);
            assert!(err.contains(named), "{text:?}: {err}");
        }
        assert!(parse("", &cli()).expect("empty").is_empty());
    }

    #[test]
    fn the_file_is_below_the_command_line_and_a_command_setting_wins() {
        let settings =
            parse("key: /global.key\nattest:\n  key: /attest.key\n", &cli()).expect("ok");
        let command = apply(cli(), &settings);
        let matches = command
            .clone()
            .try_get_matches_from(["stella", "attest", "--type", "t"])
            .expect("parses");
        let (_, attest) = matches.subcommand().expect("attest");
        let keys: Vec<&PathBuf> = attest.get_many("key").expect("key").collect();
        assert_eq!(keys, [Path::new("/attest.key")]);
        let flagged = command
            .try_get_matches_from(["stella", "attest", "--key", "/flag.key"])
            .expect("parses");
        let (_, attest) = flagged.subcommand().expect("attest");
        let keys: Vec<&PathBuf> = attest.get_many("key").expect("key").collect();
        assert_eq!(keys, [Path::new("/flag.key")]);
    }

    #[test]
    fn deep_or_hostile_documents_are_errors_not_crashes() {
        let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse(&format!("scan:\n  push: {deep}\n"), &cli()).is_err());
        // Anchors and aliases are YAML: the alias is the anchored value.
        let anchors = parse("home: &x /p\nlog-url: *x\n", &cli()).expect("aliases");
        assert_eq!(anchors[1].values, vec!["/p".to_owned()]);
        // A command name with a scalar is the option of that name.
        assert!(parse("sbom: bom.json\n", &cli()).is_ok());
    }
}
