//! The default signing key in `$STELLA_HOME/keys`: where it lives, opening it with a password,
//! and making it once.
//!
//! A new default key is an ECDSA P-256 key in cosign's encrypted format (`stella.key`) with its
//! public key beside it (`stella.pub`). Concurrent first scans make one key: the pair is made
//! under a lock in `keys/`, the public key takes its name first and the private key last,
//! exclusively (a private key in place means its public key is too); a scan that finds the key
//! made while it waited for the lock opens that one.
//!
//! Not here: where passwords come from (the environment, a terminal: the CLI decides), and
//! keys given by path (read by the CLI with `stella-attest`).

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use stella_attest::{AttestError, PrivateKey, Signer as _, cosign};
use stella_core::{ErrorKind, Kinded};

/// Largest key file read.
pub const MAX_KEY_BYTES: u64 = 64 << 10;

/// Why the default key could not be opened or made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key directory or a key file could not be used.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The key file is not a key Stella can use.
    #[error("{}: {source}", path.display())]
    Unreadable {
        /// The key file.
        path: PathBuf,
        /// What the key reader said.
        #[source]
        source: Box<AttestError>,
    },
    /// The key file is larger than any key.
    #[error("{}: {size} bytes; a key file is at most {MAX_KEY_BYTES}", path.display())]
    TooLarge {
        /// The key file.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// The password does not open the key.
    #[error("{}: the password does not open the default key", path.display())]
    WrongPassword {
        /// The key file.
        path: PathBuf,
    },
    /// A new key could not be generated or written.
    #[error("making the default key: {source}")]
    Generate {
        /// What key generation said.
        #[source]
        source: Box<AttestError>,
    },
}

impl Kinded for KeyError {
    fn kind(&self) -> ErrorKind {
        match self {
            KeyError::Io { source, .. } => ErrorKind::of_io(source),
            KeyError::Unreadable { .. } | KeyError::WrongPassword { .. } => ErrorKind::Invalid,
            KeyError::TooLarge { .. } => ErrorKind::TooLarge,
            KeyError::Generate { .. } => ErrorKind::Environment,
        }
    }
}

/// The default key pair of a home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultKey {
    /// `keys/`.
    pub dir: PathBuf,
    /// `keys/stella.key`: the private key, encrypted.
    pub private: PathBuf,
    /// `keys/stella.pub`: its public key.
    pub public: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl DefaultKey {
    /// The default key of `home`.
    pub fn of(home: &Path) -> Self {
        let dir = home.join("keys");
        DefaultKey {
            private: dir.join("stella.key"),
            public: dir.join("stella.pub"),
            dir,
        }
    }

    /// Whether a private key is in place (a link counts: it is refused when read).
    pub fn exists(&self) -> bool {
        std::fs::symlink_metadata(&self.private).is_ok()
    }

    /// The private key file's text.
    ///
    /// # Errors
    /// The file missing or unreadable, not a regular file, too large, or not UTF-8.
    pub fn text(&self) -> Result<String, KeyError> {
        let path = &self.private;
        let (mut file, meta) = stella_core::file::open_regular(path).map_err(|e| match e {
            stella_core::file::OpenError::Io { source, .. } => io(path)(source),
            other => io(path)(std::io::Error::other(other.to_string())),
        })?;
        if meta.len() > MAX_KEY_BYTES {
            return Err(KeyError::TooLarge {
                path: path.clone(),
                size: meta.len(),
            });
        }
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(io(path))?;
        Ok(text)
    }

    /// The key opened with `password`; `None` when the password does not open it.
    ///
    /// # Errors
    /// What [`DefaultKey::text`] reports; a file that is not a key.
    pub fn open(&self, password: &[u8]) -> Result<Option<PrivateKey>, KeyError> {
        open_text(&self.private, &self.text()?, password)
    }

    /// The default key, made with `password` unless another process made it first (then it is
    /// opened with `password`). The key, and whether it was made now.
    ///
    /// # Errors
    /// The directory or files failing; a key made meanwhile that `password` does not open.
    pub fn create(&self, password: &[u8]) -> Result<(PrivateKey, bool), KeyError> {
        if let Some(home) = self.dir.parent() {
            std::fs::create_dir_all(home).map_err(io(home))?;
        }
        {
            use std::os::unix::fs::DirBuilderExt as _;
            match std::fs::DirBuilder::new().mode(0o700).create(&self.dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io(&self.dir)(e)),
            }
        }
        let lock_path = self.dir.join(".lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        lock.lock().map_err(io(&lock_path))?;
        // Another process may have made the key while this one waited for the lock.
        if self.exists() {
            return match self.open(password)? {
                Some(key) => Ok((key, false)),
                None => Err(KeyError::WrongPassword {
                    path: self.private.clone(),
                }),
            };
        }
        let key = PrivateKey::generate(stella_attest::Algorithm::EcdsaP256).map_err(|source| {
            KeyError::Generate {
                source: Box::new(source),
            }
        })?;
        let pem =
            cosign::write_private_key(&key, password).map_err(|source| KeyError::Generate {
                source: Box::new(source),
            })?;
        let mut public = temporary_beside(&self.public, 0o666)?;
        write_synced(
            public.as_file_mut(),
            key.public_key().to_pem().as_bytes(),
            &self.public,
        )?;
        let mut private = temporary_beside(&self.private, 0o600)?;
        write_synced(private.as_file_mut(), pem.as_bytes(), &self.private)?;
        // Under the lock with no private key in place, a public key there is a leftover of a
        // creation that stopped half-way: replaced.
        public
            .persist(&self.public)
            .map_err(|e| io(&self.public)(e.error))?;
        private
            .persist_noclobber(&self.private)
            .map_err(|e| io(&self.private)(e.error))?;
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))?;
        drop(lock);
        Ok((key, true))
    }
}

/// A cosign key file's text opened with `password`; `None` for a wrong password.
///
/// # Errors
/// [`KeyError::Unreadable`] for a file that is not a key.
pub fn open_text(path: &Path, text: &str, password: &[u8]) -> Result<Option<PrivateKey>, KeyError> {
    match cosign::read_private_key(text, password) {
        Ok(key) => Ok(Some(key)),
        Err(AttestError::WrongPassword) => Ok(None),
        Err(source) => Err(KeyError::Unreadable {
            path: path.to_path_buf(),
            source: Box::new(source),
        }),
    }
}

/// A temporary file beside `path` with `mode`, created exclusively under a random name.
fn temporary_beside(path: &Path, mode: u32) -> Result<tempfile::NamedTempFile, KeyError> {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    tempfile::Builder::new()
        .prefix(".tmp-")
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .map_err(io(dir))
}

fn write_synced(file: &mut std::fs::File, bytes: &[u8], path: &Path) -> Result<(), KeyError> {
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_made_once_and_opens_only_with_its_password() {
        let home = tempfile::tempdir().expect("tmp");
        let key = DefaultKey::of(home.path());
        assert!(!key.exists());
        let (made, created) = key.create(b"secret").expect("made");
        assert!(created);
        let (again, created_again) = key.create(b"secret").expect("opened");
        assert!(!created_again, "a second creation opens the first key");
        assert_eq!(made.key_id(), again.key_id());
        assert!(key.open(b"other").expect("readable").is_none());
        assert!(matches!(
            key.create(b"other"),
            Err(KeyError::WrongPassword { .. })
        ));
        let public = std::fs::read_to_string(&key.public).expect("public key");
        assert_eq!(public, made.public_key().to_pem());
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key.private)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the private key is the owner's only");
    }

    #[test]
    fn concurrent_first_creations_make_one_key() {
        let home = tempfile::tempdir().expect("tmp");
        let ids: Vec<String> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        let (key, _) = DefaultKey::of(home.path()).create(b"pw").expect("key");
                        key.key_id()
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("joined"))
                .collect()
        });
        assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    }
}
