//! The identity a verifier requires of a Fulcio certificate, with cosign's flag meanings:
//! `--certificate-identity` (exact) or `--certificate-identity-regexp` against any SAN value
//! (URI, email, username), `--certificate-oidc-issuer` / `-regexp` against the issuer extension
//! (1.3.6.1.4.1.57264.1.8, else the legacy .1.1), and the GitHub workflow claims (trigger, SHA,
//! name, repository, ref, runner environment) compared exactly. Regular expressions are
//! unanchored, as in cosign (Go's `regexp.MatchString`): anchor with `^…$` to match whole values.
//!
//! Not here: reading the certificate ([`super::certificate`]).

use regex::Regex;

use super::KeylessError;
use super::certificate::CertificateIdentity;

/// Largest regular expression compiled (its automaton is bounded too).
pub const MAX_REGEX_BYTES: usize = 4096;

/// A value requirement: exact, or a regular expression.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Exactly this string.
    Exact(String),
    /// Matched somewhere by this expression.
    Regex(Regex),
}

impl Matcher {
    /// An exact matcher, or a regex one from `pattern` (named by `flag` in errors).
    ///
    /// # Errors
    /// [`KeylessError::Regex`] when the expression does not compile.
    pub fn regex(pattern: &str, flag: &'static str) -> Result<Self, KeylessError> {
        if pattern.len() > MAX_REGEX_BYTES {
            return Err(KeylessError::Regex {
                flag,
                reason: format!("{} bytes; at most {MAX_REGEX_BYTES}", pattern.len()),
            });
        }
        regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
            .map(Matcher::Regex)
            .map_err(|e| KeylessError::Regex {
                flag,
                reason: e.to_string(),
            })
    }

    /// Whether `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(s) => s == value,
            Matcher::Regex(r) => r.is_match(value),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Matcher::Exact(s) => write!(f, "{s:?}"),
            Matcher::Regex(r) => write!(f, "/{}/", r.as_str()),
        }
    }
}

/// What the certificate must say.
#[derive(Debug, Clone, Default)]
pub struct IdentityPolicy {
    /// The SAN.
    pub identity: Option<Matcher>,
    /// The OIDC issuer.
    pub issuer: Option<Matcher>,
    /// GitHub workflow trigger (`push`, `workflow_dispatch`, …).
    pub github_trigger: Option<String>,
    /// Commit SHA.
    pub github_sha: Option<String>,
    /// Workflow name.
    pub github_workflow_name: Option<String>,
    /// Repository `owner/name`.
    pub github_repository: Option<String>,
    /// Git ref (`refs/heads/main`).
    pub github_ref: Option<String>,
    /// Runner environment (`github-hosted`, `self-hosted`).
    pub runner_environment: Option<String>,
}

impl IdentityPolicy {
    /// Whether the policy asks for an identity and an issuer, as keyless verification requires.
    pub fn is_complete(&self) -> bool {
        self.identity.is_some() && self.issuer.is_some()
    }

    /// Checks `id` against the policy.
    ///
    /// # Errors
    /// [`KeylessError::Identity`] naming the first requirement not met, and what was found.
    pub fn check(&self, id: &CertificateIdentity) -> Result<(), KeylessError> {
        if let Some(want) = &self.identity
            && !id.san.iter().any(|s| want.matches(s))
        {
            return Err(KeylessError::Identity(format!(
                "the certificate's identity {:?} does not match {want}",
                id.san
            )));
        }
        if let Some(want) = &self.issuer {
            match id.issuer() {
                Some(found) if want.matches(found) => {}
                Some(found) => {
                    return Err(KeylessError::Identity(format!(
                        "the certificate's OIDC issuer {found:?} does not match {want}"
                    )));
                }
                None => {
                    return Err(KeylessError::Identity(
                        "the certificate names no OIDC issuer".to_owned(),
                    ));
                }
            }
        }
        let repository = id.github_repository();
        let claims: [(&str, &Option<String>, Option<&str>); 6] = [
            (
                "workflow trigger",
                &self.github_trigger,
                id.github_trigger(),
            ),
            ("workflow SHA", &self.github_sha, id.github_sha()),
            (
                "workflow name",
                &self.github_workflow_name,
                id.github_workflow_name(),
            ),
            (
                "workflow repository",
                &self.github_repository,
                repository.as_deref(),
            ),
            ("workflow ref", &self.github_ref, id.github_ref()),
            (
                "runner environment",
                &self.runner_environment,
                id.runner_environment(),
            ),
        ];
        for (name, want, found) in claims {
            if let Some(want) = want
                && found != Some(want.as_str())
            {
                return Err(KeylessError::Identity(format!(
                    "GitHub {name} is {}, expected {want:?}",
                    found.map_or("absent".to_owned(), |f| format!("{f:?}"))
                )));
            }
        }
        Ok(())
    }
}
