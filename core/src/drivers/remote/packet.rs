//! libvirt's RPC packet layer (`virnetprotocol.x`): a 4-byte length, then
//! the header (program, version, procedure, type, serial, status), then
//! the XDR body. One call at a time per connection; while it waits for
//! its reply the client answers the daemon's keep-alive pings and skips
//! event messages, as libvirt's client does.

use std::io::{Read, Write};
use std::sync::Mutex;

use super::transport::Stream;
use super::xdr::{Dec, Enc};
use crate::error::{Error, ErrorCode, ErrorDomain, Result};

/// `REMOTE_PROGRAM`.
pub const REMOTE_PROGRAM: u32 = 0x2000_8086;
/// `REMOTE_PROTOCOL_VERSION`.
pub const REMOTE_VERSION: u32 = 1;
/// `KEEPALIVE_PROGRAM` ("keep").
pub const KEEPALIVE_PROGRAM: u32 = 0x6b65_6570;
/// `KEEPALIVE_PROTOCOL_VERSION`.
pub const KEEPALIVE_VERSION: u32 = 1;
/// `KEEPALIVE_PROC_PING`.
pub const KEEPALIVE_PING: i32 = 1;
/// `KEEPALIVE_PROC_PONG`.
pub const KEEPALIVE_PONG: i32 = 2;
/// `VIR_NET_MESSAGE_MAX` (32 MiB) plus the length word: the largest packet
/// libvirt 9.0 sends; anything longer is refused before it is read.
pub const MESSAGE_MAX: usize = 33_554_432 + 4;
/// `VIR_NET_MESSAGE_HEADER_XDR_LEN` plus the length word.
const HEADER_LEN: usize = 28;

/// `virNetMessageType`.
pub mod kind {
    /// A call.
    pub const CALL: i32 = 0;
    /// Its reply.
    pub const REPLY: i32 = 1;
    /// An asynchronous message (events, keep-alive).
    pub const MESSAGE: i32 = 2;
}

/// `virNetMessageStatus`.
pub mod status {
    /// Success.
    pub const OK: i32 = 0;
    /// The body is a `remote_error`.
    pub const ERROR: i32 = 1;
}

/// A decoded packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Program number.
    pub prog: u32,
    /// Program version.
    pub vers: u32,
    /// Procedure.
    pub proc_: i32,
    /// [`kind`].
    pub kind: i32,
    /// Serial of the call a reply answers.
    pub serial: u32,
    /// [`status`].
    pub status: i32,
}

/// Encodes one whole packet (length word included). Since 0.3.
pub fn encode(h: &Header, body: &[u8]) -> Vec<u8> {
    let mut e = Enc::new();
    let len = HEADER_LEN + body.len();
    e.u32(u32::try_from(len).unwrap_or(u32::MAX))
        .u32(h.prog)
        .u32(h.vers)
        .i32(h.proc_)
        .i32(h.kind)
        .u32(h.serial)
        .i32(h.status);
    e.buf.extend_from_slice(body);
    e.buf
}

/// Splits a packet read from the wire (without its length word) into
/// header and body.
pub fn decode(packet: &[u8]) -> Result<(Header, &[u8])> {
    let mut d = Dec::new(packet);
    let h = Header { prog: d.u32()?, vers: d.u32()?, proc_: d.i32()?, kind: d.i32()?, serial: d.u32()?, status: d.i32()? };
    Ok((h, &packet[HEADER_LEN - 4..]))
}

fn rpc(msg: impl Into<String>) -> Error {
    Error::new(ErrorCode::Rpc, ErrorDomain::Rpc, msg)
}

/// Decodes a `remote_error` into the error libvirt's client would raise
/// (`virNetClientProgramDispatchError`): code, domain, message, str1..3
/// and int1..2 as the daemon sent them; an "unknown procedure" RPC error
/// becomes `VIR_ERR_NO_SUPPORT`.
pub fn remote_error(body: &[u8]) -> Result<Error> {
    let mut d = Dec::new(body);
    let code = d.i32()?;
    let domain = d.i32()?;
    let message = d.opt_str()?;
    let level = d.i32()?;
    if d.bool()? {
        // remote_nonnull_domain: name, uuid, id
        d.str()?;
        d.fixed(16)?;
        d.i32()?;
    }
    let (str1, str2, str3) = (d.opt_str()?, d.opt_str()?, d.opt_str()?);
    let (int1, int2) = (d.i32()?, d.i32()?);
    let mut code = ErrorCode::from_i32(code).unwrap_or(ErrorCode::InternalError);
    if domain == ErrorDomain::Remote as i32
        && code == ErrorCode::Rpc
        && level == crate::error::LEVEL_ERROR
        && message.as_deref().is_some_and(|m| m.starts_with("unknown procedure"))
    {
        code = ErrorCode::NoSupport;
    }
    Ok(Error {
        code,
        domain: ErrorDomain::from_i32(domain).unwrap_or(ErrorDomain::Remote),
        message: message.unwrap_or_else(|| code.template(false).to_owned()),
        str1,
        str2,
        str3,
        int1,
        int2,
    })
}

struct State {
    stream: Option<Stream>,
    serial: u32,
}

/// One RPC connection: calls are serialised over it (a mutex), each
/// waiting for the reply with its serial. Since 0.3.
pub struct Client {
    state: Mutex<State>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

fn closed() -> Error {
    Error::internal(ErrorDomain::Rpc, "client socket is closed")
}

fn read_packet(s: &mut Stream) -> Result<Vec<u8>> {
    let mut len = [0u8; 4];
    s.reader.read_exact(&mut len).map_err(|e| io_err(&e, &s.helper_errors()))?;
    let len = u32::from_be_bytes(len) as usize;
    if !(HEADER_LEN..=MESSAGE_MAX).contains(&len) {
        return Err(rpc(format!("packet {len} bytes received from server too large, want {MESSAGE_MAX}")));
    }
    let mut buf = vec![0u8; len - 4];
    s.reader.read_exact(&mut buf).map_err(|e| io_err(&e, &s.helper_errors()))?;
    Ok(buf)
}

/// libvirt's wording; `helper` is what an ssh helper said on stderr.
fn io_err(e: &std::io::Error, helper: &str) -> Error {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        let what = if helper.is_empty() { String::new() } else { format!("{helper}: ") };
        Error::new(ErrorCode::SystemError, ErrorDomain::Rpc, format!("End of file while reading data: {what}Input/output error"))
    } else {
        Error::new(ErrorCode::SystemError, ErrorDomain::Rpc, format!("Cannot recv data: {e}"))
    }
}

impl Client {
    /// Wraps a connected stream.
    pub fn new(stream: Stream) -> Self {
        Self { state: Mutex::new(State { stream: Some(stream), serial: 0 }) }
    }

    /// Calls `proc_` of the remote program with the XDR `args`; returns
    /// the reply body, or the daemon's error. A transport failure closes
    /// the connection (later calls get "client socket is closed").
    pub fn call(&self, proc_: i32, args: &[u8]) -> Result<Vec<u8>> {
        let mut st = self.state.lock().map_err(|_| closed())?;
        st.serial = st.serial.wrapping_add(1);
        let serial = st.serial;
        let stream = st.stream.as_mut().ok_or_else(closed)?;
        let r = Self::exchange(stream, proc_, serial, args);
        if let Err(e) = &r {
            if e.domain == ErrorDomain::Rpc && matches!(e.code, ErrorCode::SystemError | ErrorCode::Rpc) {
                if let Some(s) = st.stream.take() {
                    s.close();
                }
            }
        }
        r
    }

    fn exchange(stream: &mut Stream, proc_: i32, serial: u32, args: &[u8]) -> Result<Vec<u8>> {
        let h = Header { prog: REMOTE_PROGRAM, vers: REMOTE_VERSION, proc_, kind: kind::CALL, serial, status: status::OK };
        let pkt = encode(&h, args);
        stream.writer.write_all(&pkt).and_then(|()| stream.writer.flush()).map_err(|e| {
            Error::new(ErrorCode::SystemError, ErrorDomain::Rpc, format!("Cannot write data: {e}"))
        })?;
        loop {
            let buf = read_packet(stream)?;
            let (rh, body) = decode(&buf)?;
            if rh.prog == KEEPALIVE_PROGRAM {
                if rh.proc_ == KEEPALIVE_PING && rh.kind == kind::MESSAGE {
                    let pong = Header {
                        prog: KEEPALIVE_PROGRAM,
                        vers: KEEPALIVE_VERSION,
                        proc_: KEEPALIVE_PONG,
                        kind: kind::MESSAGE,
                        serial: 0,
                        status: status::OK,
                    };
                    stream.writer.write_all(&encode(&pong, &[])).and_then(|()| stream.writer.flush()).map_err(|e| {
                        Error::new(ErrorCode::SystemError, ErrorDomain::Rpc, format!("Cannot write data: {e}"))
                    })?;
                }
                continue;
            }
            if rh.prog != REMOTE_PROGRAM || rh.vers != REMOTE_VERSION {
                return Err(rpc(format!("Unknown program {:x} version {}", rh.prog, rh.vers)));
            }
            if rh.kind == kind::MESSAGE {
                // An event the daemon pushes; this client registers none.
                continue;
            }
            if rh.kind != kind::REPLY || rh.serial != serial || rh.proc_ != proc_ {
                return Err(rpc(format!("Unexpected message type {} serial {} proc {}", rh.kind, rh.serial, rh.proc_)));
            }
            return match rh.status {
                status::OK => Ok(body.to_vec()),
                status::ERROR => Err(remote_error(body)?),
                s => Err(rpc(format!("Unexpected message status {s}"))),
            };
        }
    }

    /// Closes the transport (the daemon sees the connection drop).
    pub fn close(&self) {
        if let Ok(mut st) = self.state.lock() {
            if let Some(s) = st.stream.take() {
                s.close();
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let h = Header { prog: REMOTE_PROGRAM, vers: 1, proc_: 185, kind: kind::CALL, serial: 9, status: 0 };
        let p = encode(&h, &[1, 2, 3, 4]);
        assert_eq!(&p[..4], &32u32.to_be_bytes());
        let (d, body) = decode(&p[4..]).unwrap();
        assert_eq!((d, body), (h, &[1u8, 2, 3, 4][..]));
    }

    #[test]
    fn remote_error_fields_and_unknown_procedure() {
        let mut e = Enc::new();
        e.i32(ErrorCode::Rpc as i32).i32(13).opt_str(Some("unknown procedure: 999")).i32(2).u32(0);
        e.opt_str(Some("s1")).opt_str(None).opt_str(Some("s3")).i32(4).i32(5).u32(0);
        let err = remote_error(&e.buf).unwrap();
        assert_eq!(err.code, ErrorCode::NoSupport);
        assert_eq!(err.domain, ErrorDomain::Remote);
        assert_eq!(err.message, "unknown procedure: 999");
        assert_eq!((err.str1.as_deref(), err.str2.as_deref(), err.str3.as_deref()), (Some("s1"), None, Some("s3")));
        assert_eq!((err.int1, err.int2), (4, 5));
    }

    /// The daemon pings and pushes an event while a call waits: the client
    /// answers PONG, skips the event and returns the reply to its serial.
    #[test]
    fn answers_keepalive_and_skips_events_while_waiting() {
        use std::io::{Read, Write};
        let (ours, mut theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let r = ours.try_clone().unwrap();
        let client = Client::new(Stream::from_parts(Box::new(r), Box::new(ours)));
        let server = std::thread::spawn(move || {
            let mut len = [0u8; 4];
            theirs.read_exact(&mut len).unwrap();
            let mut call = vec![0u8; u32::from_be_bytes(len) as usize - 4];
            theirs.read_exact(&mut call).unwrap();
            let (h, _) = decode(&call).unwrap();
            let ping = Header { prog: KEEPALIVE_PROGRAM, vers: 1, proc_: KEEPALIVE_PING, kind: kind::MESSAGE, serial: 0, status: 0 };
            theirs.write_all(&encode(&ping, &[])).unwrap();
            theirs.read_exact(&mut len).unwrap();
            let mut pong = vec![0u8; u32::from_be_bytes(len) as usize - 4];
            theirs.read_exact(&mut pong).unwrap();
            let (ph, _) = decode(&pong).unwrap();
            assert_eq!((ph.prog, ph.proc_, ph.kind), (KEEPALIVE_PROGRAM, KEEPALIVE_PONG, kind::MESSAGE));
            let event = Header { prog: REMOTE_PROGRAM, vers: 1, proc_: 107, kind: kind::MESSAGE, serial: 0, status: 0 };
            theirs.write_all(&encode(&event, &[0, 0, 0, 0])).unwrap();
            let reply = Header { kind: kind::REPLY, ..h };
            theirs.write_all(&encode(&reply, &[0, 0, 0, 42])).unwrap();
        });
        assert_eq!(client.call(3, &[]).unwrap(), vec![0, 0, 0, 42]);
        server.join().unwrap();
    }

    #[test]
    fn refuses_an_oversized_packet_and_closes() {
        use std::io::Write;
        let (ours, mut theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let r = ours.try_clone().unwrap();
        let client = Client::new(Stream::from_parts(Box::new(r), Box::new(ours)));
        theirs.write_all(&u32::MAX.to_be_bytes()).unwrap();
        let e = client.call(3, &[]).unwrap_err();
        assert!(e.message.contains("too large"), "{}", e.message);
        let e = client.call(3, &[]).unwrap_err();
        assert_eq!(e.message, "internal error: client socket is closed");
    }
}
