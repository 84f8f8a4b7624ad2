//! The files that make a directory a log and name it: `origin`, `log.key`, `created` and
//! `checkpoint`, each read strictly (byte for byte what Stella writes) and checked against the
//! others, with the damage found named per file and, where another file says what it held
//! (the origin is in the checkpoint), how to rebuild it.
//!
//! Not here: the tiles ([`crate::stored`], [`crate::verified`]).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::TlogError;
use crate::checkpoint::Checkpoint;
use crate::damage::{Damage, DamagedFile};
use crate::note::{self, NoteSigner, NoteVerifier};
use crate::store;

/// The first line of the `created` note.
pub(crate) const CREATED_HEADER: &str = "stella log created";

pub(crate) fn pem(der: &[u8]) -> String {
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD.encode(der)
    )
}

/// Opens our own checkpoint note: signed by the log key under its origin, and byte for byte
/// the note that key signs for it (Ed25519 is deterministic), so nothing was added to it.
pub(crate) fn open_checkpoint(note: &str, signer: &NoteSigner) -> Result<Checkpoint, TlogError> {
    let checkpoint = Checkpoint::open(note, signer.verifier(), &signer.verifier().name)?;
    if checkpoint.sign(signer)? != note {
        return Err(TlogError::Note(
            "it is not the note the log key signs for it (something was added)".to_owned(),
        ));
    }
    Ok(checkpoint)
}

/// How a damaged identity file could be put right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IdentityRepair {
    /// Rewrite the file with these bytes, recomputed from `from`.
    Rewrite {
        /// The bytes.
        bytes: Vec<u8>,
        /// The file they come from.
        from: PathBuf,
    },
    /// Only a backup can.
    Restore,
    /// Nothing tells whether this file or another is the damaged one.
    Ambiguous,
}

/// The origin, key, creation note and checkpoint of a log directory, each checked, with the
/// damage found (and how each could be repaired).
pub(crate) struct Identity {
    pub(crate) signer: Option<NoteSigner>,
    pub(crate) created: Option<String>,
    pub(crate) checkpoint: Option<(Checkpoint, String)>,
    pub(crate) damaged: Vec<(DamagedFile, IdentityRepair)>,
}

impl Identity {
    pub(crate) fn read(dir: &Path) -> Self {
        let mut damaged: Vec<(DamagedFile, IdentityRepair)> = Vec::new();
        let mut text = |name: &str, expected: &'static str| -> Option<String> {
            let path = dir.join(name);
            match store::read(&path) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(s) => Some(s),
                    Err(_) => {
                        damaged.push((
                            DamagedFile::new(&path, Damage::Malformed { expected }),
                            IdentityRepair::Restore,
                        ));
                        None
                    }
                },
                Err(f) => {
                    damaged.push((f, IdentityRepair::Restore));
                    None
                }
            }
        };
        let origin_text = text("origin", "the log's origin on one line");
        let key_text = text("log.key", "an Ed25519 PKCS#8 key in PEM");
        let created_text = text("created", "the log's creation time");
        let note = text("checkpoint", "a signed note");

        let origin = origin_text.as_deref().and_then(|t| {
            let o = t.strip_suffix('\n')?;
            NoteVerifier::new(o, [0u8; 32]).ok().map(|_| o.to_owned())
        });
        if origin_text.is_some() && origin.is_none() {
            damaged.push((
                DamagedFile::new(
                    dir.join("origin"),
                    Damage::Malformed {
                        expected: "the log's origin on one line",
                    },
                ),
                IdentityRepair::Restore,
            ));
        }
        let der = key_text.as_deref().and_then(|t| {
            let b64 = t
                .strip_prefix("-----BEGIN PRIVATE KEY-----\n")?
                .strip_suffix("\n-----END PRIVATE KEY-----\n")?;
            let der = STANDARD.decode(b64).ok()?;
            // The file must be exactly what Stella writes: any other byte is damage.
            (pem(&der) == t && NoteSigner::from_pkcs8("x", &der).is_ok()).then_some(der)
        });
        if key_text.is_some() && der.is_none() {
            damaged.push((
                DamagedFile::new(
                    dir.join("log.key"),
                    Damage::Malformed {
                        expected: "an Ed25519 PKCS#8 key in PEM",
                    },
                ),
                IdentityRepair::Restore,
            ));
        }

        // The checkpoint's own origin line, when the origin file is the damaged one.
        let checkpoint_origin = note
            .as_deref()
            .and_then(|n| n.split_once('\n'))
            .map(|(o, _)| o.to_owned());
        let mut signer = None;
        let mut checkpoint = None;
        if let (Some(der), Some(note)) = (&der, &note) {
            let try_open = |name: &str| {
                let s = NoteSigner::from_pkcs8(name, der).ok()?;
                let cp = open_checkpoint(note, &s).ok()?;
                Some((s, cp))
            };
            if let Some((s, cp)) = origin.as_deref().and_then(try_open) {
                signer = Some(s);
                checkpoint = Some((cp, note.clone()));
            } else if let Some((s, cp)) = checkpoint_origin
                .as_deref()
                .filter(|o| origin.as_deref() != Some(*o))
                .and_then(try_open)
            {
                // The checkpoint verifies under its own origin line: the origin file is what
                // changed, and the checkpoint says what it was.
                if origin.is_some() {
                    damaged.push((
                        DamagedFile::new(
                            dir.join("origin"),
                            Damage::Differs {
                                other: dir.join("checkpoint"),
                            },
                        ),
                        IdentityRepair::Rewrite {
                            bytes: format!("{}\n", cp.origin).into_bytes(),
                            from: dir.join("checkpoint"),
                        },
                    ));
                } else if let Some(last) = damaged
                    .iter_mut()
                    .find(|(f, _)| f.path == dir.join("origin"))
                {
                    last.1 = IdentityRepair::Rewrite {
                        bytes: format!("{}\n", cp.origin).into_bytes(),
                        from: dir.join("checkpoint"),
                    };
                }
                signer = Some(s);
                checkpoint = Some((cp, note.clone()));
            } else {
                damaged.extend(blame_signature(
                    dir,
                    note,
                    created_text.as_deref(),
                    der,
                    origin.as_deref(),
                ));
            }
        }

        let created = match (&created_text, &signer) {
            (Some(t), Some(s)) => match read_created(t, s) {
                Some(c) => Some(c),
                None => {
                    damaged.push((
                        DamagedFile::new(
                            dir.join("created"),
                            Damage::Unsigned {
                                reason: "not the creation note the log key signs".to_owned(),
                            },
                        ),
                        IdentityRepair::Restore,
                    ));
                    None
                }
            },
            _ => None,
        };
        Identity {
            signer,
            created,
            checkpoint,
            damaged,
        }
    }
}

/// The creation time from the `created` note signed by the log key; logs written before it
/// was signed hold the bare time, which is accepted as it is.
fn read_created(text: &str, signer: &NoteSigner) -> Option<String> {
    if let Some(time) = text
        .strip_suffix('\n')
        .filter(|t| !t.contains('\n') && stella_core::time::is_rfc3339_utc(t))
    {
        return Some(time.to_owned());
    }
    let opened = note::open(text, std::slice::from_ref(signer.verifier())).ok()?;
    let time = opened
        .text
        .strip_prefix(CREATED_HEADER)?
        .strip_prefix('\n')?
        .strip_suffix('\n')?;
    let canonical = signer.sign(&opened.text).ok()?;
    (canonical == text && stella_core::time::is_rfc3339_utc(time)).then(|| time.to_owned())
}

/// Which files are to blame when the checkpoint verifies with the log key neither under the
/// origin file's name nor under its own first line:
///
/// - when the creation note verifies with the key under the origin, both are intact: the
///   checkpoint is damaged;
/// - a signature line names its key (a name and a key id): when the key file makes that id
///   under that name, the key is intact and the checkpoint is damaged, and so is an origin
///   file naming another name if the creation note was signed under the checkpoint's name and
///   key (two notes do not change alike by accident);
/// - when the key does not make the id and the creation note names the same key as the
///   checkpoint, the key file is what changed;
/// - otherwise nothing tells: the checkpoint and the key are both suspects.
fn blame_signature(
    dir: &Path,
    note: &str,
    created: Option<&str>,
    der: &[u8],
    origin: Option<&str>,
) -> Vec<(DamagedFile, IdentityRepair)> {
    let signature = |n: &str| {
        note::split(n)
            .ok()
            .and_then(|(_, sigs)| sigs.first().map(|(name, id, _)| (name.clone(), *id)))
    };
    let key_makes = |(name, id): &(String, [u8; 4])| {
        NoteSigner::from_pkcs8(name, der).is_ok_and(|s| s.verifier().id == *id)
    };
    let checkpoint_signature = signature(note);
    let created_signature = created.and_then(signature);
    let checkpoint = |name: Option<&str>| {
        let reason = name
            .and_then(|n| NoteSigner::from_pkcs8(n, der).ok())
            .and_then(|s| open_checkpoint(note, &s).err())
            .map_or_else(|| "no key to check it with".to_owned(), |e| e.to_string());
        (
            DamagedFile::new(dir.join("checkpoint"), Damage::Unsigned { reason }),
            IdentityRepair::Restore,
        )
    };
    let created_verifies = origin
        .and_then(|o| NoteSigner::from_pkcs8(o, der).ok())
        .is_some_and(|s| {
            created.is_some_and(|c| c.contains("\n\n") && read_created(c, &s).is_some())
        });
    if created_verifies {
        return vec![checkpoint(origin)];
    }
    match &checkpoint_signature {
        Some(sig) if key_makes(sig) => {
            let mut blamed = vec![checkpoint(Some(&sig.0))];
            if origin.is_some_and(|o| o != sig.0) && created_signature.as_ref() == Some(sig) {
                blamed.push((
                    DamagedFile::new(
                        dir.join("origin"),
                        Damage::Differs {
                            other: dir.join("created"),
                        },
                    ),
                    IdentityRepair::Restore,
                ));
            }
            blamed
        }
        Some(sig) if created_signature.as_ref() == Some(sig) => vec![(
            DamagedFile::new(
                dir.join("log.key"),
                Damage::Differs {
                    other: dir.join("checkpoint"),
                },
            ),
            IdentityRepair::Restore,
        )],
        _ => {
            let (file, _) = checkpoint(origin);
            vec![
                (file, IdentityRepair::Ambiguous),
                (
                    DamagedFile::new(
                        dir.join("log.key"),
                        Damage::Disagrees {
                            other: dir.join("checkpoint"),
                        },
                    ),
                    IdentityRepair::Ambiguous,
                ),
            ]
        }
    }
}
