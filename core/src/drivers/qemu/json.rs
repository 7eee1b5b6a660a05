//! JSON for QMP and `qemu-img --output=json`, on `serde_json`.
//!
//! `serde_json` refuses documents nested deeper than 128 levels, so a
//! hostile peer cannot overflow the stack; the reply size is bounded by
//! the reader in `qmp.rs` before anything is parsed.

/// A JSON value (`serde_json::Value`; objects keep keys sorted).
pub use serde_json::Value as Json;
pub use serde_json::json;

/// Parses one JSON document; `Err` with a short reason when malformed
/// (trailing data, nesting deeper than 128, bad UTF-8 escapes, ...).
///
/// Since 0.1.0.
pub fn parse(s: &str) -> Result<Json, String> {
    serde_json::from_str(s).map_err(|e| e.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let v = parse(r#"{"return": {"status": "running", "running": true, "n": [1, -2.5e3, null]}, "s":"a\"\u00e9\n"}"#).unwrap();
        assert_eq!(v.get("return").and_then(|r| r.get("status")).and_then(Json::as_str), Some("running"));
        assert_eq!(v.get("s").and_then(Json::as_str), Some("a\"é\n"));
        let again = parse(&v.to_string()).unwrap();
        assert_eq!(v, again);
        assert!(parse("{").is_err());
        assert!(parse("{} x").is_err());
        assert!(parse(&"[".repeat(100)).is_err());
    }

    #[test]
    fn numbers_round_trip_exactly() {
        // Found by the qmp_json fuzzer: without serde_json's float_roundtrip
        // the re-parse of a long mantissa differed in the last digit.
        let text = "1777777777777777777777777777777777777777777777777777777777777777777388888388888888";
        let v = parse(text).unwrap();
        assert_eq!(parse(&v.to_string()).unwrap().to_string(), v.to_string());
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(parse(&deep(100)).is_ok());
        assert!(parse(&deep(100_000)).is_err());
    }

    #[test]
    fn commands_serialize_compactly_with_sorted_keys() {
        let v = json!({"execute": "x", "id": 7, "arguments": {"b": "é\n", "a": ["q"]}});
        assert_eq!(v.to_string(), r#"{"arguments":{"a":["q"],"b":"é\n"},"execute":"x","id":7}"#);
    }
}
