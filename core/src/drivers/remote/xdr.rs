//! XDR (RFC 4506) encoding of the few types libvirt's RPC protocol uses:
//! 32-bit ints, 64-bit hypers, booleans, strings, fixed and variable
//! opaque data, optional pointers and arrays. Hand-written: the XDR crates
//! on crates.io (`serde-xdr`, `xdr-codec`) have seen no release for years.
//!
//! Decoding is bounded: every length is checked against the bytes left
//! and against the protocol's own maximum, so a hostile daemon cannot make
//! us allocate more than the packet it sent.

use crate::error::{Error, ErrorCode, ErrorDomain, Result};

/// `REMOTE_STRING_MAX` of libvirt 9.0.
pub const STRING_MAX: usize = 4_194_304;

/// Builds the body of a message. Since 0.3.
#[derive(Debug, Default, Clone)]
pub struct Enc {
    /// The encoded bytes so far.
    pub buf: Vec<u8>,
}

impl Enc {
    /// An empty encoder.
    pub fn new() -> Self {
        Self::default()
    }
    /// `int` / `unsigned int`.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// `int`.
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// `unsigned hyper`.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn pad(&mut self, len: usize) {
        let p = (4 - len % 4) % 4;
        self.buf.extend_from_slice(&[0u8; 3][..p]);
    }
    /// Fixed-length `opaque[N]`.
    pub fn fixed(&mut self, b: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(b);
        self.pad(b.len());
        self
    }
    /// Variable-length `opaque<>` / `string<>`.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        // Lengths above u32 cannot be sent; callers pass strings capped far below.
        self.u32(u32::try_from(b.len()).unwrap_or(u32::MAX));
        self.fixed(b)
    }
    /// `remote_nonnull_string`.
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }
    /// `remote_string` (a pointer: 0 = NULL, 1 = present).
    pub fn opt_str(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            None => self.u32(0),
            Some(s) => self.u32(1).str(s),
        }
    }
}

/// Reads a message body. Since 0.3.
#[derive(Debug)]
pub struct Dec<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn short() -> Error {
    Error::new(ErrorCode::Rpc, ErrorDomain::Remote, "Unable to unmarshall reply: message too short")
}

impl<'a> Dec<'a> {
    /// Reads `buf` from its start.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or_else(short)?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    /// `unsigned int`.
    pub fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// `int`.
    pub fn i32(&mut self) -> Result<i32> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// `unsigned hyper`.
    pub fn u64(&mut self) -> Result<u64> {
        let hi = u64::from(self.u32()?);
        Ok(hi << 32 | u64::from(self.u32()?))
    }
    /// XDR `bool`.
    pub fn bool(&mut self) -> Result<bool> {
        match self.u32()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Error::new(ErrorCode::Rpc, ErrorDomain::Remote, "Unable to unmarshall reply: bad boolean")),
        }
    }
    /// Fixed-length `opaque[n]`.
    pub fn fixed(&mut self, n: usize) -> Result<&'a [u8]> {
        let b = self.take(n)?;
        self.take((4 - n % 4) % 4)?;
        Ok(b)
    }
    /// Variable-length `opaque<max>`.
    pub fn bytes(&mut self, max: usize) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        if n > max || n > self.remaining() {
            return Err(Error::new(ErrorCode::Rpc, ErrorDomain::Remote, "Unable to unmarshall reply: length out of range"));
        }
        self.fixed(n)
    }
    /// `remote_nonnull_string` (must be UTF-8 without NUL).
    pub fn str(&mut self) -> Result<String> {
        let b = self.bytes(STRING_MAX)?;
        match std::str::from_utf8(b) {
            Ok(s) if !s.contains('\0') => Ok(s.to_owned()),
            _ => Err(Error::new(ErrorCode::Rpc, ErrorDomain::Remote, "Unable to unmarshall reply: string is not UTF-8")),
        }
    }
    /// `remote_string`.
    pub fn opt_str(&mut self) -> Result<Option<String>> {
        if self.bool()? { self.str().map(Some) } else { Ok(None) }
    }
    /// An array count, checked against `max` and against what is left
    /// (each element takes at least `min_elem` bytes).
    pub fn count(&mut self, max: usize, min_elem: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        if n > max || n.saturating_mul(min_elem.max(1)) > self.remaining() {
            return Err(Error::new(ErrorCode::Rpc, ErrorDomain::Remote, "Unable to unmarshall reply: array too long"));
        }
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_pads() {
        let mut e = Enc::new();
        e.u32(7).str("abcde").opt_str(None).opt_str(Some("x")).u64(1 << 40).fixed(&[1; 16]);
        assert_eq!(&e.buf[4..8], &[0, 0, 0, 5]);
        assert_eq!(&e.buf[8..16], b"abcde\0\0\0");
        let mut d = Dec::new(&e.buf);
        assert_eq!(d.u32().unwrap(), 7);
        assert_eq!(d.str().unwrap(), "abcde");
        assert_eq!(d.opt_str().unwrap(), None);
        assert_eq!(d.opt_str().unwrap().as_deref(), Some("x"));
        assert_eq!(d.u64().unwrap(), 1 << 40);
        assert_eq!(d.fixed(16).unwrap(), &[1; 16]);
        assert_eq!(d.remaining(), 0);
        assert!(d.u32().is_err());
    }

    #[test]
    fn rejects_lengths_beyond_the_packet() {
        let mut d = Dec::new(&[0xff, 0xff, 0xff, 0xf0, b'a']);
        assert!(d.str().is_err());
        let mut d = Dec::new(&[0, 0, 0, 2, 0, 0, 0, 9]);
        assert!(d.count(1000, 4).is_err());
    }
}
