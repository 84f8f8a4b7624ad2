//! `os-release(5)`: which distribution a root filesystem is, for the namespace and `distro`
//! qualifier of OS package purls. Only `ID`, `VERSION_ID` and `PRETTY_NAME` are kept.

use super::{OsRelease, Reader};
use crate::SbomError;

/// Where os-release(5) says to look, in order.
const LOCATIONS: [&str; 2] = ["etc/os-release", "usr/lib/os-release"];

/// Reads the first os-release file present.
pub(super) fn read(reader: &mut Reader<'_>) -> Result<Option<OsRelease>, SbomError> {
    for path in LOCATIONS {
        if let Some(bytes) = reader.read_database(path)? {
            return Ok(Some(parse(&String::from_utf8_lossy(&bytes))));
        }
    }
    Ok(None)
}

/// Parses `KEY=value` lines (shell-style quoting; comments and other lines ignored).
fn parse(text: &str) -> OsRelease {
    let mut os = OsRelease {
        id: "linux".to_owned(),
        version_id: None,
        pretty_name: None,
    };
    for line in text.lines() {
        let Some((key, raw)) = line.trim().split_once('=') else {
            continue;
        };
        let value = unquote(raw.trim());
        if value.is_empty() {
            continue;
        }
        match key {
            "ID" => os.id = value.to_lowercase(),
            "VERSION_ID" => os.version_id = Some(value),
            "PRETTY_NAME" => os.pretty_name = Some(value),
            _ => {}
        }
    }
    os
}

/// Removes one level of single or double quotes; backslash escapes inside double quotes.
fn unquote(raw: &str) -> String {
    if let Some(inner) = raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        return inner.to_owned();
    }
    let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return raw.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_and_quoting() {
        let os = parse(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n# c\n",
        );
        assert_eq!(os.id, "debian");
        assert_eq!(os.version_id.as_deref(), Some("12"));
        assert_eq!(
            os.pretty_name.as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        let os = parse("ID='Alpine'\nVERSION_ID=3.20.1\nPRETTY_NAME=\"a \\\"b\\\"\"");
        assert_eq!(os.id, "alpine");
        assert_eq!(os.version_id.as_deref(), Some("3.20.1"));
        assert_eq!(os.pretty_name.as_deref(), Some("a \"b\""));
        assert_eq!(parse("").id, "linux");
    }
}
