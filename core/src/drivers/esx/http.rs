//! HTTP(S) transport for SOAP: one ureq agent per connection, rustls with
//! certificate checks unless `no_verify=1`, a timeout on every request, the
//! session cookie kept by hand (real servers mark it `Secure`, which cookie
//! jars refuse to send over plain http).

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::soap::MAX_BODY;

/// What one POST brought back.
#[derive(Debug)]
pub enum Answer {
    /// An HTTP response: status, `vmware_soap_session` cookie pair if set, body.
    Http { status: u16, cookie: Option<String>, body: String },
    /// No HTTP response: connection refused or closed, timeout, TLS failure.
    Transport(String),
}

/// A configured HTTP client for one endpoint.
pub struct Transport {
    agent: ureq::Agent,
    url: String,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport").field("url", &self.url).finish_non_exhaustive()
    }
}

/// Accepts any server certificate (`no_verify=1`) but still checks the
/// handshake signatures, so the connection is encrypted to *someone*.
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

fn tls_config(no_verify: bool, cacert: Option<&[u8]>) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    let config = if no_verify {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerify(provider))).with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match cacert {
            Some(pem) => {
                use rustls::pki_types::pem::PemObject;
                let mut n = 0;
                for cert in CertificateDer::pem_slice_iter(pem) {
                    let cert = cert.map_err(|e| format!("cannot read CA certificate: {e}"))?;
                    roots.add(cert).map_err(|e| format!("cannot use CA certificate: {e}"))?;
                    n += 1;
                }
                if n == 0 {
                    return Err("no certificate in the CA file".into());
                }
            }
            None => return Err("no CA file given".into()),
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

impl Transport {
    /// A client for `url` (`http://host:port/sdk` or `https://…`).
    pub fn new(url: String, https: bool, no_verify: bool, cacert: Option<&[u8]>, timeout: Duration) -> Result<Self, String> {
        let mut b = ureq::AgentBuilder::new()
            .timeout_connect(timeout.min(Duration::from_secs(30)))
            .timeout(timeout)
            .redirects(0)
            .user_agent("virsnap-esx");
        // Otherwise ureq's default: rustls verifying against webpki-roots.
        if https && (no_verify || cacert.is_some()) {
            b = b.tls_config(tls_config(no_verify, cacert)?);
        }
        Ok(Self { agent: b.build(), url })
    }

    /// The endpoint URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// POSTs one SOAP envelope.
    pub fn post(&self, body: &str, soap_action: &str, cookie: Option<&str>) -> Answer {
        let mut req = self
            .agent
            .post(&self.url)
            .set("Content-Type", "text/xml; charset=utf-8")
            .set("SOAPAction", soap_action);
        if let Some(c) = cookie {
            req = req.set("Cookie", c);
        }
        let resp = match req.send_string(body) {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(ureq::Error::Transport(t)) => return Answer::Transport(t.to_string()),
        };
        let status = resp.status();
        let cookie = resp
            .all("set-cookie")
            .into_iter()
            .filter_map(|c| c.split(';').next())
            .map(str::trim)
            .find(|c| c.starts_with("vmware_soap_session="))
            .map(str::to_owned);
        let mut buf = Vec::new();
        let limit = u64::try_from(MAX_BODY).unwrap_or(u64::MAX) + 1;
        if let Err(e) = resp.into_reader().take(limit).read_to_end(&mut buf) {
            return Answer::Transport(format!("reading the response failed: {e}"));
        }
        if buf.len() > MAX_BODY {
            return Answer::Transport(format!("response larger than {MAX_BODY} bytes"));
        }
        match String::from_utf8(buf) {
            Ok(body) => Answer::Http { status, cookie, body },
            Err(_) => Answer::Http { status, cookie, body: String::from("\u{fffd}") },
        }
    }
}
