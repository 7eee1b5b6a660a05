//! The authentication step before `CONNECT_OPEN`, as libvirt's client
//! does it: ask the daemon which types it wants (`AUTH_LIST`), take the
//! first one (or the URI's `auth=`), and run it. `none` needs nothing;
//! `polkit` is one call (the daemon checks the peer's credentials, so root
//! over the unix socket passes). SASL is refused with
//! `VIR_ERR_AUTH_FAILED`: no well-kept pure-Rust crate speaks the SASL
//! mechanisms libvirtd offers (DIGEST-MD5 / GSSAPI / SCRAM through
//! Cyrus SASL), and binding libsasl2 would put C in this crate.

use super::packet::Client;
use super::procs;
use super::xdr::{Dec, Enc};
use crate::drivers::{OpenRequest, ParsedUri};
use crate::error::{Error, ErrorCode, ErrorDomain, Result};

fn auth_name(t: i32) -> &'static str {
    match t {
        procs::AUTH_NONE => "none",
        procs::AUTH_SASL => "sasl",
        procs::AUTH_POLKIT_TYPE => "polkit",
        _ => "unknown",
    }
}

/// Runs the daemon's authentication; `Ok` when the connection may open.
pub fn negotiate(client: &Client, _req: &OpenRequest, parsed: &ParsedUri) -> Result<()> {
    let body = match client.call(procs::AUTH_LIST, &Enc::new().buf) {
        Ok(b) => b,
        // A daemon too old to know AUTH_LIST wants no authentication.
        Err(e) if e.code == ErrorCode::NoSupport => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut d = Dec::new(&body);
    let n = d.count(20, 4)?;
    let types = (0..n).map(|_| d.i32()).collect::<Result<Vec<_>>>()?;
    let wanted = parsed.param("auth");
    let chosen = match wanted {
        Some(w) => *types.iter().find(|t| auth_name(**t) == w || (w.starts_with("sasl") && **t == procs::AUTH_SASL)).ok_or_else(
            || {
                Error::new(
                    ErrorCode::AuthFailed,
                    ErrorDomain::Rpc,
                    format!("requested authentication type {w} rejected"),
                )
            },
        )?,
        None => types.first().copied().unwrap_or(procs::AUTH_NONE),
    };
    match chosen {
        procs::AUTH_NONE => Ok(()),
        procs::AUTH_POLKIT_TYPE => {
            let body = client.call(procs::AUTH_POLKIT, &Enc::new().buf)?;
            if Dec::new(&body).i32()? == 0 {
                return Err(Error::new(ErrorCode::AuthFailed, ErrorDomain::Rpc, "polkit authentication did not complete"));
            }
            Ok(())
        }
        procs::AUTH_SASL => Err(Error::new(
            ErrorCode::AuthFailed,
            ErrorDomain::Rpc,
            "SASL authentication is not supported by virsnap's remote driver",
        )),
        t => Err(Error::new(ErrorCode::AuthFailed, ErrorDomain::Rpc, format!("unsupported authentication type {t}"))),
    }
}
