//! Snapshot-name rules shared by every driver (DESIGN §4.1).

use crate::error::{Error, ErrorDomain, Result};

/// Longest accepted snapshot name, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// Checks a snapshot name: non-empty, at most 255 bytes, no `/`, no NUL or
/// control characters, not `.` or `..`. Fails with `VIR_ERR_INVALID_ARG`.
pub fn validate_snapshot_name(name: &str) -> Result<()> {
    let why = if name.is_empty() {
        Some("must not be empty")
    } else if name.len() > MAX_NAME_BYTES {
        Some("is longer than 255 bytes")
    } else if name.contains('/') {
        Some("must not contain '/'")
    } else if name.chars().any(char::is_control) {
        Some("must not contain control characters")
    } else if name == "." || name == ".." {
        Some("must not be '.' or '..'")
    } else {
        None
    };
    match why {
        None => Ok(()),
        Some(why) => Err(Error::invalid_arg(
            ErrorDomain::DomainSnapshot,
            format!("invalid snapshot name '{}': name {why}", printable(name)),
        )),
    }
}

/// A name with control characters shown as `\xNN`, safe to put in a message.
pub fn printable(name: &str) -> String {
    let mut out = String::with_capacity(name.len().min(300));
    for c in name.chars().take(300) {
        if c.is_control() {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for n in ["s1", "my snap name", "1795628407", "ünïcødé", ".hidden", "a..b"] {
            validate_snapshot_name(n).unwrap();
        }
    }

    #[test]
    fn rejects_path_tricks_and_controls() {
        for n in ["", ".", "..", "../../etc/x", "a/b", "a\nb", "a\0b", "\x7f"] {
            let e = validate_snapshot_name(n).unwrap_err();
            assert_eq!(e.code, crate::ErrorCode::InvalidArg, "{n:?}");
        }
        assert!(validate_snapshot_name(&"x".repeat(256)).is_err());
        assert!(validate_snapshot_name(&"x".repeat(255)).is_ok());
    }
}
