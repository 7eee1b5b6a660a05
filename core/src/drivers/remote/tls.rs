//! The TLS transport (`DRIVER+tls://HOST[:PORT]/…`, port 16514) with
//! rustls, reading the certificates where libvirt's client looks for
//! them: `pkipath=DIR` from the URI, else (root) `/etc/pki/CA/cacert.pem`,
//! `/etc/pki/libvirt/clientcert.pem`, `/etc/pki/libvirt/private/clientkey.pem`,
//! else (other users) `~/.pki/libvirt/{cacert,clientcert,clientkey}.pem`
//! with the system CA as fallback. `no_verify=1` skips the check of the
//! server's certificate (the handshake signatures are still checked).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::transport::Stream;
use crate::drivers::ParsedUri;
use crate::error::{Error, ErrorCode, ErrorDomain, Result};

/// Largest certificate / key file read (bounded reads of regular files).
const PEM_MAX: u64 = 1 << 20;

#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_err(msg: impl Into<String>) -> Error {
    Error::new(ErrorCode::SystemError, ErrorDomain::Rpc, msg)
}

/// The three files libvirt's client uses: (CA, client cert, client key).
pub fn pki_files(uri: &ParsedUri) -> (PathBuf, PathBuf, PathBuf) {
    if let Some(dir) = uri.param("pkipath") {
        let d = Path::new(dir);
        return (d.join("cacert.pem"), d.join("clientcert.pem"), d.join("clientkey.pem"));
    }
    let root = std::process::Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    match std::env::var_os("HOME").filter(|_| !root) {
        Some(h) => {
            let d = Path::new(&h).join(".pki/libvirt");
            let ca = d.join("cacert.pem");
            let ca = if ca.exists() { ca } else { PathBuf::from("/etc/pki/CA/cacert.pem") };
            (ca, d.join("clientcert.pem"), d.join("clientkey.pem"))
        }
        None => (
            PathBuf::from("/etc/pki/CA/cacert.pem"),
            PathBuf::from("/etc/pki/libvirt/clientcert.pem"),
            PathBuf::from("/etc/pki/libvirt/private/clientkey.pem"),
        ),
    }
}

/// Reads a regular file (not through a symlink), at most [`PEM_MAX`] bytes.
fn read_pem(p: &Path) -> Result<Option<Vec<u8>>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = match std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(p) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(tls_err(format!("Unable to read {}: {e}", p.display()))),
    };
    let meta = f.metadata().map_err(|e| tls_err(format!("Unable to read {}: {e}", p.display())))?;
    if !meta.is_file() {
        return Err(tls_err(format!("{} is not a regular file", p.display())));
    }
    let mut buf = Vec::new();
    f.take(PEM_MAX).read_to_end(&mut buf).map_err(|e| tls_err(format!("Unable to read {}: {e}", p.display())))?;
    Ok(Some(buf))
}

fn config(uri: &ParsedUri) -> Result<rustls::ClientConfig> {
    let no_verify = uri.param("no_verify").is_some_and(|v| v != "0");
    let (ca, cert, key) = pki_files(uri);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(format!("TLS setup failed: {e}")))?;
    let builder = if no_verify {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
    } else {
        let pem = read_pem(&ca)?.ok_or_else(|| tls_err(format!("Cannot access CA certificate '{}': No such file or directory", ca.display())))?;
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(&pem) {
            let c = c.map_err(|e| tls_err(format!("Unable to import CA certificate '{}': {e}", ca.display())))?;
            roots.add(c).map_err(|e| tls_err(format!("Unable to import CA certificate '{}': {e}", ca.display())))?;
        }
        builder.with_root_certificates(roots)
    };
    match (read_pem(&cert)?, read_pem(&key)?) {
        (Some(c), Some(k)) => {
            let chain = CertificateDer::pem_slice_iter(&c)
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| tls_err(format!("Unable to import client certificate '{}': {e}", cert.display())))?;
            let key = PrivateKeyDer::from_pem_slice(&k)
                .map_err(|e| tls_err(format!("Unable to import client key '{}': {e}", key.display())))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| tls_err(format!("Unable to use client certificate: {e}")))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

/// Connects, handshakes and returns the encrypted stream.
pub fn connect(host: &str, port: u16, uri: &ParsedUri) -> Result<Stream> {
    let cfg = Arc::new(config(uri)?);
    let name = ServerName::try_from(host.to_owned()).map_err(|e| tls_err(format!("invalid host name {host}: {e}")))?;
    let mut conn = rustls::ClientConnection::new(cfg, name).map_err(|e| tls_err(format!("TLS setup failed: {e}")))?;
    let mut sock = TcpStream::connect((host, port))
        .map_err(|e| tls_err(format!("unable to connect to server at '{host}:{port}': {e}")))?;
    sock.set_nodelay(true).map_err(|e| tls_err(format!("Unable to set TCP_NODELAY: {e}")))?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).map_err(|e| tls_err(format!("TLS handshake failed: {e}")))?;
    }
    // libvirt's server sends one byte after its certificate check: 1 = ok.
    let mut s = rustls::StreamOwned::new(conn, sock);
    let mut ok = [0u8; 1];
    std::io::Read::read_exact(&mut s, &mut ok).map_err(|e| tls_err(format!("Unable to read TLS confirmation: {e}")))?;
    if ok[0] != 1 {
        return Err(tls_err("server verification (of our certificate or IP address) failed"));
    }
    Ok(Stream::shared(s))
}
