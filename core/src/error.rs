//! libvirt's error model: codes, domains and message templates.
//!
//! Every failure in virsnap is an [`Error`] carrying the `virErrorNumber` and
//! `virErrorDomain` libvirt 9.0 would report, its full message (worded as
//! libvirt words it) and the raw `str1..3`/`int1..2` fields of `virError`.

use std::fmt;

/// `Result` with virsnap's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! numbered {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $value:expr, $cname:literal;)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(i32)]
        #[non_exhaustive]
        pub enum $name { $($(#[$vm])* $variant = $value,)* }

        impl $name {
            /// libvirt's C name of this value (`VIR_ERR_…` / `VIR_FROM_…`).
            pub fn c_name(self) -> &'static str {
                match self { $(Self::$variant => $cname,)* }
            }
            /// The value with libvirt's number `n`, if virsnap knows it.
            pub fn from_i32(n: i32) -> Option<Self> {
                match n { $($value => Some(Self::$variant),)* _ => None }
            }
            /// Every value virsnap knows, in numeric order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];
        }
    };
}

numbered! {
    /// libvirt's `virErrorNumber` (the subset a snapshot caller can see).
    ErrorCode {
        /// No error.
        Ok = 0, "VIR_ERR_OK";
        /// Internal error.
        InternalError = 1, "VIR_ERR_INTERNAL_ERROR";
        /// Memory allocation failure.
        NoMemory = 2, "VIR_ERR_NO_MEMORY";
        /// The driver does not implement the function.
        NoSupport = 3, "VIR_ERR_NO_SUPPORT";
        /// Could not resolve the host.
        UnknownHost = 4, "VIR_ERR_UNKNOWN_HOST";
        /// No driver for this URI.
        NoConnect = 5, "VIR_ERR_NO_CONNECT";
        /// Invalid connection object.
        InvalidConn = 6, "VIR_ERR_INVALID_CONN";
        /// Invalid domain object.
        InvalidDomain = 7, "VIR_ERR_INVALID_DOMAIN";
        /// Invalid function argument.
        InvalidArg = 8, "VIR_ERR_INVALID_ARG";
        /// A command to the hypervisor failed.
        OperationFailed = 9, "VIR_ERR_OPERATION_FAILED";
        /// A definition lacks its name.
        NoName = 21, "VIR_ERR_NO_NAME";
        /// An HTTP request failed.
        HttpError = 12, "VIR_ERR_HTTP_ERROR";
        /// XML description is invalid or not well formed.
        XmlError = 27, "VIR_ERR_XML_ERROR";
        /// Operation forbidden on a read-only connection.
        OperationDenied = 29, "VIR_ERR_OPERATION_DENIED";
        /// Failed to open a file.
        OpenFailed = 30, "VIR_ERR_OPEN_FAILED";
        /// Failed to read a file.
        ReadFailed = 31, "VIR_ERR_READ_FAILED";
        /// Failed to parse a file.
        ParseFailed = 32, "VIR_ERR_PARSE_FAILED";
        /// Failed to write a file.
        WriteFailed = 34, "VIR_ERR_WRITE_FAILED";
        /// Detail of an XML error (the parser's own text).
        XmlDetail = 35, "VIR_ERR_XML_DETAIL";
        /// A system call failed.
        SystemError = 38, "VIR_ERR_SYSTEM_ERROR";
        /// An RPC (SOAP, QMP) exchange failed.
        Rpc = 39, "VIR_ERR_RPC";
        /// Domain not found.
        NoDomain = 42, "VIR_ERR_NO_DOMAIN";
        /// Authentication failed.
        AuthFailed = 45, "VIR_ERR_AUTH_FAILED";
        /// The operation is not valid in the current state.
        OperationInvalid = 55, "VIR_ERR_OPERATION_INVALID";
        /// The configuration is not supported.
        ConfigUnsupported = 67, "VIR_ERR_CONFIG_UNSUPPORTED";
        /// Timed out.
        OperationTimeout = 68, "VIR_ERR_OPERATION_TIMEOUT";
        /// Invalid domain snapshot object.
        InvalidDomainSnapshot = 71, "VIR_ERR_INVALID_DOMAIN_SNAPSHOT";
        /// Domain snapshot not found.
        NoDomainSnapshot = 72, "VIR_ERR_NO_DOMAIN_SNAPSHOT";
        /// A valid but unsupported argument value.
        ArgumentUnsupported = 74, "VIR_ERR_ARGUMENT_UNSUPPORTED";
        /// Revert would lose data; needs FORCE.
        SnapshotRevertRisky = 77, "VIR_ERR_SNAPSHOT_REVERT_RISKY";
        /// The operation was aborted.
        OperationAborted = 78, "VIR_ERR_OPERATION_ABORTED";
        /// Authentication was cancelled.
        AuthCancelled = 79, "VIR_ERR_AUTH_CANCELLED";
        /// The operation is not supported.
        OperationUnsupported = 84, "VIR_ERR_OPERATION_UNSUPPORTED";
        /// A resource is busy (e.g. another process holds the lock).
        ResourceBusy = 87, "VIR_ERR_RESOURCE_BUSY";
        /// XML failed schema validation.
        XmlInvalidSchema = 92, "VIR_ERR_XML_INVALID_SCHEMA";
        /// No credentials available for authentication.
        AuthUnavailable = 94, "VIR_ERR_AUTH_UNAVAILABLE";
    }
}

numbered! {
    /// libvirt's `virErrorDomain`: which part of libvirt raised an error.
    ErrorDomain {
        /// No particular origin.
        None = 0, "VIR_FROM_NONE";
        /// XML utilities.
        Xml = 5, "VIR_FROM_XML";
        /// Domain objects (invalid domain pointers).
        Dom = 6, "VIR_FROM_DOM";
        /// RPC layer.
        Rpc = 7, "VIR_FROM_RPC";
        /// Configuration file handling.
        Conf = 9, "VIR_FROM_CONF";
        /// The QEMU driver.
        Qemu = 10, "VIR_FROM_QEMU";
        /// The test driver.
        Test = 12, "VIR_FROM_TEST";
        /// The remote driver (libvirt's RPC client).
        Remote = 13, "VIR_FROM_REMOTE";
        /// Storage pools and volumes (the storage API's own errors).
        Storage = 18, "VIR_FROM_STORAGE";
        /// Virtual networks (the network API's own errors).
        Network = 19, "VIR_FROM_NETWORK";
        /// Domain configuration (moment lists).
        Domain = 20, "VIR_FROM_DOMAIN";
        /// Host devices (the node-device API's own errors).
        Nodedev = 22, "VIR_FROM_NODEDEV";
        /// The VirtualBox driver.
        Vbox = 25, "VIR_FROM_VBOX";
        /// Host interfaces (the interface API's own errors).
        Interface = 26, "VIR_FROM_INTERFACE";
        /// The ESX driver.
        Esx = 28, "VIR_FROM_ESX";
        /// Secrets (the secret API's own errors).
        Secret = 30, "VIR_FROM_SECRET";
        /// Network filters (the nwfilter API's own errors).
        Nwfilter = 33, "VIR_FROM_NWFILTER";
        /// Domain snapshots (public-wrapper checks and snapshot XML).
        DomainSnapshot = 35, "VIR_FROM_DOMAIN_SNAPSHOT";
        /// Streams (the stream API's own errors).
        Streams = 38, "VIR_FROM_STREAMS";
        /// The event loop.
        Event = 40, "VIR_FROM_EVENT";
        /// URI parsing.
        Uri = 45, "VIR_FROM_URI";
        /// Authentication.
        Auth = 46, "VIR_FROM_AUTH";
        /// Domain checkpoints (the checkpoint API's own errors).
        DomainCheckpoint = 69, "VIR_FROM_DOMAIN_CHECKPOINT";
    }
}

impl ErrorDomain {
    /// The name libvirt's default error handler prints (`libvirt: <name> error : …`).
    pub fn label(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Xml => "XML Util",
            Self::Dom => "Domain",
            Self::Rpc => "RPC",
            Self::Conf => "Config File",
            Self::Qemu => "QEMU Driver",
            Self::Test => "Test Driver",
            Self::Remote => "Remote Driver",
            Self::Storage => "Storage Driver",
            Self::Network => "Network Driver",
            Self::Domain => "Domain Config",
            Self::Nodedev => "Node Device Driver",
            Self::Interface => "Network Interface Driver",
            Self::Secret => "Secrets Driver",
            Self::Nwfilter => "Network Filter Driver",
            Self::Streams => "I/O Stream Utils",
            Self::Event => "Event Loop",
            Self::DomainCheckpoint => "Domain Checkpoint",
            Self::Vbox => "VirtualBox Driver",
            Self::Esx => "ESX Driver",
            Self::DomainSnapshot => "Domain Snapshot",
            Self::Uri => "URI Utils",
            Self::Auth => "Authentication Utils",
        }
    }
}

impl ErrorCode {
    /// libvirt's `virErrorMsg` template: with detail (`%s`) and without.
    pub fn template(self, with_detail: bool) -> &'static str {
        use ErrorCode::*;
        let (with, without) = match self {
            Ok => ("%s", ""),
            InternalError => ("internal error: %s", "internal error"),
            NoMemory => ("out of memory: %s", "out of memory"),
            NoSupport => (
                "this function is not supported by the connection driver: %s",
                "this function is not supported by the connection driver",
            ),
            UnknownHost => ("unknown host %s", "unknown host"),
            NoConnect => ("no connection driver available for %s", "no connection driver available"),
            InvalidConn => ("invalid connection pointer in %s", "invalid connection pointer in"),
            InvalidDomain => ("invalid domain pointer in %s", "invalid domain pointer in"),
            InvalidArg => ("invalid argument: %s", "invalid argument"),
            OperationFailed => ("operation failed: %s", "operation failed"),
            HttpError => ("HTTP error: %s", "HTTP error"),
            NoName => ("missing name information in %s", "missing name information"),
            XmlError => ("XML error: %s", "XML description is invalid or not well formed"),
            OperationDenied => ("operation forbidden: %s", "operation forbidden for read only access"),
            OpenFailed => ("failed to open configuration file %s", "failed to open configuration file"),
            ReadFailed => ("failed to read configuration file %s", "failed to read configuration file"),
            ParseFailed => ("failed to parse configuration file %s", "failed to parse configuration file"),
            WriteFailed => ("failed to write configuration file: %s", "failed to write configuration file"),
            XmlDetail => ("%s", "parser error"),
            SystemError => ("%s", "system error"),
            Rpc => ("%s", "RPC error"),
            NoDomain => ("Domain not found: %s", "Domain not found"),
            AuthFailed => ("authentication failed: %s", "authentication failed"),
            OperationInvalid => ("Requested operation is not valid: %s", "Requested operation is not valid"),
            ConfigUnsupported => ("unsupported configuration: %s", "unsupported configuration"),
            OperationTimeout => ("Timed out during operation: %s", "Timed out during operation"),
            InvalidDomainSnapshot => ("Invalid domain snapshot: %s", "Invalid domain snapshot"),
            NoDomainSnapshot => ("Domain snapshot not found: %s", "Domain snapshot not found"),
            ArgumentUnsupported => ("argument unsupported: %s", "argument unsupported"),
            SnapshotRevertRisky => ("revert requires force: %s", "revert requires force"),
            OperationAborted => ("operation aborted: %s", "operation aborted"),
            AuthCancelled => ("authentication cancelled: %s", "authentication cancelled"),
            OperationUnsupported => ("Operation not supported: %s", "Operation not supported"),
            ResourceBusy => ("resource busy: %s", "resource busy"),
            XmlInvalidSchema => (
                "XML document failed to validate against schema: %s",
                "XML document failed to validate against schema",
            ),
            AuthUnavailable => ("authentication unavailable: %s", "authentication unavailable"),
        };
        if with_detail { with } else { without }
    }
}

/// A libvirt error: what `virGetLastError()` / `libvirtError` report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// libvirt's error number.
    pub code: ErrorCode,
    /// Which part of libvirt raised it.
    pub domain: ErrorDomain,
    /// The full human-readable text.
    pub message: String,
    /// `virError.str1` (usually the template, or the function name).
    pub str1: Option<String>,
    /// `virError.str2` (usually the detail, or the argument name).
    pub str2: Option<String>,
    /// `virError.str3`.
    pub str3: Option<String>,
    /// `virError.int1` (-1 for driver errors, 0 for argument errors).
    pub int1: i32,
    /// `virError.int2`.
    pub int2: i32,
}

/// `VIR_ERR_ERROR`, the level of every error virsnap raises.
pub const LEVEL_ERROR: i32 = 2;

impl Error {
    /// An error worded as libvirt's `virReportError(code, "%s", detail)`.
    pub fn new(code: ErrorCode, domain: ErrorDomain, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        let template = code.template(true);
        Self {
            code,
            domain,
            message: template.replacen("%s", &detail, 1),
            str1: Some(template.to_owned()),
            str2: Some(detail),
            str3: None,
            int1: -1,
            int2: -1,
        }
    }

    /// An error with no detail (`Domain not found`).
    pub fn bare(code: ErrorCode, domain: ErrorDomain) -> Self {
        let template = code.template(false);
        Self {
            code,
            domain,
            message: template.to_owned(),
            str1: Some(template.to_owned()),
            str2: None,
            str3: None,
            int1: -1,
            int2: -1,
        }
    }

    /// An argument error worded exactly as `message` (libvirt's `virReportInvalidArg`).
    pub fn invalid_arg_raw(domain: ErrorDomain, func: &str, arg: &str, message: String) -> Self {
        Self {
            code: ErrorCode::InvalidArg,
            domain,
            message,
            str1: Some(func.to_owned()),
            str2: Some(arg.to_owned()),
            str3: None,
            int1: 0,
            int2: 0,
        }
    }

    /// `VIR_ERR_INVALID_ARG`: "`arg` in `func` must not be NULL".
    pub fn null_arg(func: &str, arg: &str) -> Self {
        Self::invalid_arg_raw(
            ErrorDomain::DomainSnapshot,
            func,
            arg,
            format!("{arg} in {func} must not be NULL"),
        )
    }

    /// `VIR_ERR_INVALID_ARG` with libvirt's generic wording ("invalid argument: …").
    pub fn invalid_arg(domain: ErrorDomain, detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArg, domain, detail)
    }

    /// Driver flag check: "unsupported flags (0x…) in function …" (only the unknown bits).
    pub fn unsupported_flags(domain: ErrorDomain, bits: u32, driver_func: &str) -> Self {
        Self::invalid_arg_raw(
            domain,
            driver_func,
            "flags",
            format!("unsupported flags (0x{bits:x}) in function {driver_func}"),
        )
    }

    /// Public-wrapper flag check: flag `a` requires flag `b`.
    pub fn flag_requires(func: &str, required: &str, by: &str) -> Self {
        Self::invalid_arg_raw(
            ErrorDomain::DomainSnapshot,
            func,
            "ctl",
            format!("Flag '{required}' is required by flag '{by}'"),
        )
    }

    /// Public-wrapper flag check: flags `a` and `b` are mutually exclusive.
    pub fn flags_exclusive(func: &str, a: &str, b: &str) -> Self {
        Self::invalid_arg_raw(
            ErrorDomain::DomainSnapshot,
            func,
            "ctl",
            format!("Flags '{a}' and '{b}' are mutually exclusive"),
        )
    }

    /// `VIR_ERR_NO_SUPPORT` for public function `func`.
    pub fn no_support(func: &str) -> Self {
        Self::new(ErrorCode::NoSupport, ErrorDomain::None, func)
    }

    /// `VIR_ERR_NO_DOMAIN_SNAPSHOT`: "no domain snapshot with matching name 'X'".
    pub fn no_snapshot(domain: ErrorDomain, name: &str) -> Self {
        Self::new(
            ErrorCode::NoDomainSnapshot,
            domain,
            format!("no domain snapshot with matching name '{name}'"),
        )
    }

    /// `VIR_ERR_OPERATION_DENIED` for a read-only connection (snapshot API).
    pub fn read_only(func: &str) -> Self {
        Self::read_only_in(ErrorDomain::DomainSnapshot, func)
    }

    /// `VIR_ERR_OPERATION_DENIED` for a read-only connection, raised by public
    /// function `func` of the API part `domain`. Since 0.1.0.
    pub fn read_only_in(domain: ErrorDomain, func: &str) -> Self {
        Self::new(ErrorCode::OperationDenied, domain, format!("read only access prevents {func}"))
    }

    /// `VIR_ERR_INTERNAL_ERROR` with a detail.
    pub fn internal(domain: ErrorDomain, detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::InternalError, domain, detail)
    }

    /// `VIR_ERR_OPERATION_INVALID` with a detail.
    pub fn op_invalid(domain: ErrorDomain, detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::OperationInvalid, domain, detail)
    }

    /// `VIR_ERR_OPERATION_FAILED` with a detail.
    pub fn op_failed(domain: ErrorDomain, detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::OperationFailed, domain, detail)
    }

    /// `VIR_ERR_CONFIG_UNSUPPORTED` with a detail.
    pub fn config_unsupported(domain: ErrorDomain, detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::ConfigUnsupported, domain, detail)
    }

    /// `VIR_ERR_XML_ERROR` with a detail.
    pub fn xml(domain: ErrorDomain, detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::XmlError, domain, detail)
    }

    /// `VIR_ERR_SYSTEM_ERROR` from an I/O error, worded "`what`: `io error`".
    pub fn system(domain: ErrorDomain, what: impl fmt::Display, err: &std::io::Error) -> Self {
        let mut e = Self::new(ErrorCode::SystemError, domain, format!("{what}: {err}"));
        e.int1 = err.raw_os_error().unwrap_or(0);
        e
    }

    /// Replaces the error domain (drivers re-tag shared helpers' errors).
    #[must_use]
    pub fn in_domain(mut self, domain: ErrorDomain) -> Self {
        self.domain = domain;
        self
    }

    /// The line libvirt's default handler prints to stderr (without the
    /// final newline); see [`crate::report::default_line`].
    pub fn default_handler_line(&self) -> String {
        let mut line = crate::report::default_line(self.domain as i32, LEVEL_ERROR, &self.message);
        line.pop();
        line
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_libvirt_wording() {
        let e = Error::no_snapshot(ErrorDomain::Test, "nope");
        assert_eq!(e.message, "Domain snapshot not found: no domain snapshot with matching name 'nope'");
        assert_eq!(e.str1.as_deref(), Some("Domain snapshot not found: %s"));
        assert_eq!((e.int1, e.int2), (-1, -1));
        let e = Error::unsupported_flags(ErrorDomain::Test, 4, "testDomainSnapshotCreateXML");
        assert_eq!(e.message, "unsupported flags (0x4) in function testDomainSnapshotCreateXML");
        assert_eq!((e.code as i32, e.domain as i32, e.int1), (8, 12, 0));
        assert_eq!(Error::bare(ErrorCode::NoDomain, ErrorDomain::Test).message, "Domain not found");
    }

    #[test]
    fn numbers_are_libvirts() {
        assert_eq!(ErrorCode::NoDomainSnapshot as i32, 72);
        assert_eq!(ErrorCode::XmlInvalidSchema as i32, 92);
        assert_eq!(ErrorDomain::DomainSnapshot as i32, 35);
        assert_eq!(ErrorDomain::Esx as i32, 28);
        assert_eq!(ErrorCode::from_i32(77), Some(ErrorCode::SnapshotRevertRisky));
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_i32(*c as i32), Some(*c));
        }
    }
}
