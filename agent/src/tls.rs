//! The TLS policy for talking to Jupyter: a SageMaker notebook's local Jupyter server
//! (`https://localhost:8443`) has a self-signed certificate, so any certificate is accepted for
//! `localhost`, `127.0.0.1` and `::1` (the connection never leaves the machine). Every other host gets the
//! usual verification against the system's trusted roots and an invalid certificate is refused.
//!
//! The decision is taken per handshake, on the name the connection is made to, not once per URL.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, Error, RootCertStore, SignatureScheme};

/// The hosts whose certificate is not verified: the local machine only.
pub fn is_local_host(name: &ServerName<'_>) -> bool {
    match name {
        ServerName::DnsName(dns) => {
            let host = dns.as_ref().trim_end_matches('.');
            host.eq_ignore_ascii_case("localhost")
        }
        ServerName::IpAddress(ip) => {
            let ip = std::net::IpAddr::from(*ip);
            ip == std::net::Ipv4Addr::LOCALHOST || ip == std::net::Ipv6Addr::LOCALHOST
        }
        _ => false,
    }
}

#[derive(Debug)]
pub struct LocalTolerantVerifier {
    /// `None` when the system has no trusted roots: then only local hosts can be reached over TLS.
    strict: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl LocalTolerantVerifier {
    pub fn new(roots: RootCertStore, provider: Arc<CryptoProvider>) -> Self {
        let strict = if roots.is_empty() {
            None
        } else {
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build().ok()
        };
        LocalTolerantVerifier { strict, provider }
    }
}

impl ServerCertVerifier for LocalTolerantVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        if is_local_host(server_name) {
            return Ok(ServerCertVerified::assertion());
        }
        match &self.strict {
            Some(strict) => strict.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now),
            None => Err(Error::General("no trusted root certificates on this machine".into())),
        }
    }

    // The handshake signatures are always checked: the server must hold the key of the certificate it sent.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// The system's trusted roots (on Amazon Linux, `/etc/pki/tls/certs`); unreadable ones are skipped.
pub fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let _ = roots.add_parsable_certificates(found.certs);
    roots
}

/// The client configuration used for Jupyter: rustls on aws-lc-rs (as the AWS SDK), with the policy above.
pub fn client_config(roots: RootCertStore) -> Result<rustls::ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(LocalTolerantVerifier::new(roots, provider.clone()));
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;

    const TEST_CA: &str = include_str!("../tests/certs/test-ca.pem");
    const CA_SIGNED_REMOTE: &str = include_str!("../tests/certs/ca-signed-jupyter.example.test.pem");
    const SELF_SIGNED_REMOTE: &str = include_str!("../tests/certs/self-signed-jupyter.example.test.pem");
    const SELF_SIGNED_LOCALHOST: &str = include_str!("../tests/certs/self-signed-localhost.pem");

    fn cert(pem: &str) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(pem.as_bytes()).expect("a PEM certificate")
    }

    fn name(host: &str) -> ServerName<'static> {
        ServerName::try_from(host.to_owned()).expect("a server name")
    }

    fn verifier(with_test_ca: bool) -> LocalTolerantVerifier {
        let mut roots = RootCertStore::empty();
        if with_test_ca {
            roots.add(cert(TEST_CA)).expect("the test CA");
        }
        LocalTolerantVerifier::new(roots, Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
    }

    fn verify(v: &LocalTolerantVerifier, pem: &str, host: &str) -> Result<ServerCertVerified, Error> {
        // The test certificates are valid from 2026 to 2126.
        let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_900_000_000));
        v.verify_server_cert(&cert(pem), &[], &name(host), &[], now)
    }

    #[test]
    fn local_hosts_are_exactly_localhost_and_the_loopback_addresses() {
        for host in ["localhost", "LOCALHOST", "localhost.", "127.0.0.1", "::1"] {
            assert!(is_local_host(&name(host)), "{host}");
        }
        for host in ["jupyter.example.test", "localhost.example.test", "mylocalhost", "10.0.0.1", "169.254.169.254"] {
            assert!(!is_local_host(&name(host)), "{host}");
        }
        // Not on the list even though they are loopback or map to it: they get full verification.
        for host in ["127.0.0.2", "::ffff:127.0.0.1"] {
            assert!(!is_local_host(&name(host)), "{host}");
        }
    }

    #[test]
    fn a_self_signed_certificate_is_accepted_for_local_hosts() {
        let v = verifier(false);
        for host in ["localhost", "127.0.0.1", "::1"] {
            assert!(verify(&v, SELF_SIGNED_LOCALHOST, host).is_ok(), "{host}");
            // Whatever the certificate names: the connection does not leave the machine.
            assert!(verify(&v, SELF_SIGNED_REMOTE, host).is_ok(), "{host}");
        }
    }

    #[test]
    fn a_self_signed_certificate_is_refused_for_any_other_host() {
        for v in [verifier(false), verifier(true)] {
            assert!(verify(&v, SELF_SIGNED_REMOTE, "jupyter.example.test").is_err());
            assert!(verify(&v, SELF_SIGNED_LOCALHOST, "127.0.0.2").is_err());
            assert!(verify(&v, SELF_SIGNED_LOCALHOST, "10.0.0.1").is_err());
        }
    }

    #[test]
    fn other_hosts_are_verified_against_the_trusted_roots() {
        let v = verifier(true);
        assert!(verify(&v, CA_SIGNED_REMOTE, "jupyter.example.test").is_ok());
        // The right chain for the wrong name is still refused.
        assert!(verify(&v, CA_SIGNED_REMOTE, "other.example.test").is_err());
        // Without the CA among the roots, the same certificate is refused.
        assert!(verify(&verifier(false), CA_SIGNED_REMOTE, "jupyter.example.test").is_err());
    }
}
