//! VBoxManage failures → libvirt errors, classified by the `VBOX_E_*` /
//! COM result code VBoxManage prints (never by its translatable text).

use crate::drivers::DomainRef;
use crate::error::{Error, ErrorCode, ErrorDomain, Result};

use super::cli::Output;

const V: ErrorDomain = ErrorDomain::Vbox;

/// What a command was about, to word "not found".
#[derive(Debug, Clone, Copy)]
pub enum Ctx<'a> {
    /// Not about one machine.
    Plain,
    /// About a machine.
    Domain(&'a DomainRef),
    /// About a snapshot (by the name the caller used) of a machine.
    Snapshot(&'a DomainRef, &'a str),
}

/// Result codes (VirtualBox's `VBOX_E_*`, XPCOM's `NS_*`/`E_*`).
pub mod code {
    /// `VBOX_E_OBJECT_NOT_FOUND`.
    pub const OBJECT_NOT_FOUND: u32 = 0x80bb_0001;
    /// `VBOX_E_INVALID_VM_STATE`.
    pub const INVALID_VM_STATE: u32 = 0x80bb_0002;
    /// `VBOX_E_VM_ERROR`.
    pub const VM_ERROR: u32 = 0x80bb_0003;
    /// `VBOX_E_FILE_ERROR`.
    pub const FILE_ERROR: u32 = 0x80bb_0004;
    /// `VBOX_E_IPRT_ERROR`.
    pub const IPRT_ERROR: u32 = 0x80bb_0005;
    /// `VBOX_E_NOT_SUPPORTED`.
    pub const NOT_SUPPORTED: u32 = 0x80bb_0009;
    /// `VBOX_E_INVALID_OBJECT_STATE`.
    pub const INVALID_OBJECT_STATE: u32 = 0x80bb_0007;
    /// `VBOX_E_HOST_ERROR`.
    pub const HOST_ERROR: u32 = 0x80bb_0008;
    /// `E_NOTIMPL`.
    pub const E_NOTIMPL: u32 = 0x8000_4001;
    /// `E_INVALIDARG`.
    pub const E_INVALIDARG: u32 = 0x8007_0057;
    /// `E_ACCESSDENIED`.
    pub const E_ACCESSDENIED: u32 = 0x8007_0005;
}

fn code_of(symbol: &str, hresult: u32) -> u32 {
    if hresult != 0 {
        return hresult;
    }
    match symbol {
        "VBOX_E_OBJECT_NOT_FOUND" => code::OBJECT_NOT_FOUND,
        "VBOX_E_INVALID_VM_STATE" => code::INVALID_VM_STATE,
        "VBOX_E_INVALID_OBJECT_STATE" => code::INVALID_OBJECT_STATE,
        "VBOX_E_NOT_SUPPORTED" => code::NOT_SUPPORTED,
        "E_NOTIMPL" => code::E_NOTIMPL,
        "E_INVALIDARG" => code::E_INVALIDARG,
        _ => 0,
    }
}

/// `Ok` for exit status 0, else the libvirt error for what VBoxManage said.
pub fn check(out: &Output, ctx: Ctx<'_>) -> Result<()> {
    if out.code == 0 {
        return Ok(());
    }
    Err(to_error(out, ctx))
}

/// The libvirt error for a failed run.
pub fn to_error(out: &Output, ctx: Ctx<'_>) -> Error {
    let e = out.error();
    let text = if e.message.is_empty() {
        let first = out.stderr.lines().chain(out.stdout.lines()).find(|l| !l.trim().is_empty()).unwrap_or("");
        first.trim().to_owned()
    } else {
        e.message.clone()
    };
    let detail = if e.code.is_empty() { text.clone() } else { format!("{text} ({})", e.code) };
    match code_of(&e.code, e.hresult) {
        code::OBJECT_NOT_FOUND => match ctx {
            Ctx::Snapshot(_, name) if !text.contains("registered machine") => Error::no_snapshot(V, name),
            Ctx::Snapshot(d, _) | Ctx::Domain(d) => {
                Error::new(ErrorCode::NoDomain, V, format!("no domain with matching uuid '{}' ({})", d.uuid, d.name))
            }
            Ctx::Plain => Error::new(ErrorCode::NoDomain, V, detail),
        },
        code::INVALID_VM_STATE | code::INVALID_OBJECT_STATE => Error::op_invalid(V, detail),
        code::E_NOTIMPL | code::NOT_SUPPORTED => Error::new(ErrorCode::OperationUnsupported, V, detail),
        code::E_INVALIDARG => Error::invalid_arg(V, detail),
        code::E_ACCESSDENIED => Error::new(ErrorCode::OperationDenied, V, detail),
        _ if e.code.is_empty() && out.code == 2 => Error::internal(V, format!("VBoxManage syntax error: {detail}")),
        _ if e.code.is_empty() && text.is_empty() => {
            Error::op_failed(V, format!("VBoxManage exited with status {}", out.code))
        }
        _ => Error::op_failed(V, detail),
    }
}
