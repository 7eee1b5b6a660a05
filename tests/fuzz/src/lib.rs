//! Helpers shared by the fuzz targets.

/// The input as UTF-8 (every parser under test takes `&str`, as the C, Python
/// and CLI layers reject invalid UTF-8 before it reaches them).
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Splits off the first byte as a selector (flags, parser choice).
pub fn split(data: &[u8]) -> Option<(u8, &str)> {
    let (&first, rest) = data.split_first()?;
    Some((first, text(rest)?))
}
