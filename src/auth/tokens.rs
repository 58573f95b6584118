//! ServiceAccount tokens: compact JWTs signed with the instance's key (ES256 with kubetwin's own
//! P-256 key by default, RS256 when an RSA key is supplied, as envtest's `sa-signer.key` is),
//! carrying the claims kube-apiserver's TokenRequest puts in a bound token (`iss`, `sub`, `aud`,
//! `exp`, `iat`, `nbf`, `jti` and the private `kubernetes.io` claim) or the legacy claims
//! kube-controller-manager puts in a token Secret (see [`legacy_claims`]), and their
//! verification.

use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_2048_8192_SHA256,
    RSA_PKCS1_SHA256, RsaKeyPair, UnparsedPublicKey,
};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};
use std::sync::Arc;

/// The issuer kubeadm clusters use, and so kubetwin's default `--service-account-issuer`.
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// The issuer of legacy (Secret-based) ServiceAccount tokens, whatever `--service-account-issuer`
/// says (`serviceaccount.LegacyIssuer`).
pub const LEGACY_ISSUER: &str = "kubernetes/serviceaccount";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok()
}

/// One DER element: `tag`, its definite length, `content`.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match content.len() {
        len @ 0..=0x7f => out.push(len as u8),
        len => {
            let bytes = len.to_be_bytes();
            let significant = &bytes[bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len() - 1)..];
            out.push(0x80 | significant.len() as u8);
            out.extend_from_slice(significant);
        }
    }
    out.extend_from_slice(content);
    out
}

/// `AlgorithmIdentifier` DER for rsaEncryption (with its NULL parameters).
const RSA_ALGORITHM: &[u8] =
    &[0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
/// `AlgorithmIdentifier` DER for id-ecPublicKey on prime256v1.
const P256_ALGORITHM: &[u8] = &[
    0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03,
    0x01, 0x07,
];

/// A `SubjectPublicKeyInfo`, as Go's `x509.MarshalPKIXPublicKey` writes it.
fn subject_public_key_info(algorithm: &[u8], public_key: &[u8]) -> Vec<u8> {
    let bit_string = der(0x03, &[&[0u8][..], public_key].concat());
    der(0x30, &[algorithm, &bit_string].concat())
}

/// The private key a signer signs with.
enum SigningKey {
    Es256(EcdsaKeyPair),
    Rs256(RsaKeyPair),
}

impl SigningKey {
    fn algorithm(&self) -> &'static str {
        match self {
            SigningKey::Es256(_) => "ES256",
            SigningKey::Rs256(_) => "RS256",
        }
    }

    /// The public key as ring verifies with it (an uncompressed point or a PKCS#1
    /// `RSAPublicKey`).
    fn public_key(&self) -> &[u8] {
        match self {
            SigningKey::Es256(key) => key.public_key().as_ref(),
            SigningKey::Rs256(key) => key.public().as_ref(),
        }
    }

    fn subject_public_key_info(&self) -> Vec<u8> {
        match self {
            SigningKey::Es256(_) => subject_public_key_info(P256_ALGORITHM, self.public_key()),
            SigningKey::Rs256(_) => subject_public_key_info(RSA_ALGORITHM, self.public_key()),
        }
    }
}

/// Signs and verifies ServiceAccount tokens with one key: P-256 (ES256) or RSA (RS256).
#[derive(Clone)]
pub struct TokenSigner {
    /// Shared by the signers of every server that uses the same key.
    key: Arc<SigningKey>,
    key_id: String,
    pub issuer: String,
    /// Audiences a token must name one of to authenticate (`--api-audiences`; the issuer by
    /// default).
    pub audiences: Vec<String>,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("algorithm", &self.key.algorithm())
            .field("key_id", &self.key_id)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl TokenSigner {
    fn new(key: SigningKey, issuer: &str, audiences: Vec<String>) -> TokenSigner {
        Self::with_shared_key(Arc::new(key), issuer, audiences)
    }

    fn with_shared_key(key: Arc<SigningKey>, issuer: &str, audiences: Vec<String>) -> TokenSigner {
        // As kube-apiserver: the key id is the unpadded base64url SHA-256 of the PKIX public key.
        let key_id = b64(ring::digest::digest(&ring::digest::SHA256, &key.subject_public_key_info()).as_ref());
        let audiences = if audiences.is_empty() { vec![issuer.to_string()] } else { audiences };
        TokenSigner { key, key_id, issuer: issuer.to_string(), audiences }
    }

    /// A signer from a PKCS#8 private key (DER): P-256 signs ES256, RSA signs RS256.
    pub fn from_pkcs8(der: &[u8], issuer: &str, audiences: Vec<String>) -> Result<TokenSigner, String> {
        let key = match EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &SystemRandom::new()) {
            Ok(key) => SigningKey::Es256(key),
            Err(ec_error) => SigningKey::Rs256(RsaKeyPair::from_pkcs8(der).map_err(|rsa_error| {
                format!(
                    "the service account signing key is neither a PKCS#8 P-256 key ({ec_error}) nor a PKCS#8 RSA key ({rsa_error})"
                )
            })?),
        };
        Ok(Self::new(key, issuer, audiences))
    }

    /// A signer from a PEM private key, as `--service-account-signing-key-file` holds it: PKCS#8
    /// (`PRIVATE KEY`, P-256 or RSA) or PKCS#1 (`RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str, issuer: &str, audiences: Vec<String>) -> Result<TokenSigner, String> {
        let key = PrivateKeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| format!("the service account signing key is not a PEM private key: {e}"))?;
        match key {
            PrivateKeyDer::Pkcs8(der) => Self::from_pkcs8(der.secret_pkcs8_der(), issuer, audiences),
            PrivateKeyDer::Pkcs1(der) => {
                let key = RsaKeyPair::from_der(der.secret_pkcs1_der())
                    .map_err(|e| format!("the service account signing key is not a usable RSA key: {e}"))?;
                Ok(Self::new(SigningKey::Rs256(key), issuer, audiences))
            }
            _ => Err("the service account signing key is a SEC1 `EC PRIVATE KEY`; convert it to PKCS#8 \
                      (openssl pkcs8 -topk8 -nocrypt)"
                .into()),
        }
    }

    /// A signer with the same key for another issuer and audiences (no key is parsed again).
    pub fn for_issuer(&self, issuer: &str, audiences: Vec<String>) -> TokenSigner {
        Self::with_shared_key(self.key.clone(), issuer, audiences)
    }

    /// `ES256` or `RS256`.
    pub fn algorithm(&self) -> &'static str {
        self.key.algorithm()
    }

    /// The `kid` tokens carry.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// A signed compact JWT of `claims`.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": self.key.algorithm(), "kid": self.key_id});
        let signing_input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
        let rng = SystemRandom::new();
        let signature = match self.key.as_ref() {
            SigningKey::Es256(key) => key
                .sign(&rng, signing_input.as_bytes())
                .expect("ECDSA signing with a valid key does not fail")
                .as_ref()
                .to_vec(),
            SigningKey::Rs256(key) => {
                let mut signature = vec![0; key.public().modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &rng, signing_input.as_bytes(), &mut signature)
                    .expect("RSA signing into a modulus-sized buffer does not fail");
                signature
            }
        };
        format!("{signing_input}.{}", b64(&signature))
    }

    /// The claims of a token this signer issued, if its signature holds. Expiry and audience
    /// are the caller's to check.
    pub fn verify(&self, token: &str) -> Option<Value> {
        let mut parts = token.split('.');
        let (header, claims, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Value = serde_json::from_slice(&unb64(header)?).ok()?;
        if header["alg"] != self.key.algorithm() {
            return None;
        }
        let signing_input = &token[..token.rfind('.')?];
        let signature = unb64(signature)?;
        match self.key.as_ref() {
            SigningKey::Es256(_) => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, self.key.public_key())
                .verify(signing_input.as_bytes(), &signature),
            SigningKey::Rs256(_) => UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, self.key.public_key())
                .verify(signing_input.as_bytes(), &signature),
        }
        .ok()?;
        serde_json::from_slice(&unb64(claims)?).ok()
    }
}

/// What a bound token is tied to besides its ServiceAccount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundObject {
    /// `Pod` or `Secret` (or `Node`).
    pub kind: String,
    pub name: String,
    pub uid: String,
}

/// The claims of a bound ServiceAccount token, as TokenRequest issues them.
#[allow(clippy::too_many_arguments)]
pub fn bound_claims(
    issuer: &str,
    audiences: &[String],
    namespace: &str,
    service_account: (&str, &str),
    bound: Option<&BoundObject>,
    now: i64,
    expiration_seconds: i64,
    token_id: &str,
) -> Value {
    let (name, uid) = service_account;
    let mut private = json!({"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}});
    if let Some(bound) = bound {
        private[bound.kind.to_ascii_lowercase()] = json!({"name": bound.name, "uid": bound.uid});
    }
    json!({
        "aud": audiences,
        "exp": now + expiration_seconds,
        "iat": now,
        "iss": issuer,
        "jti": token_id,
        "kubernetes.io": private,
        "nbf": now,
        "sub": format!("system:serviceaccount:{namespace}:{name}"),
    })
}

/// The claims of a legacy ServiceAccount token, as kube-controller-manager's tokens controller
/// signs them into the token Secret `secret_name` (`serviceaccount.LegacyClaims`): no audience,
/// no expiry, no `iat` or `jti`. Keys are in the order Go's JSON encoder sorts them.
pub fn legacy_claims(namespace: &str, service_account: (&str, &str), secret_name: &str) -> Value {
    let (name, uid) = service_account;
    json!({
        "iss": LEGACY_ISSUER,
        "kubernetes.io/serviceaccount/namespace": namespace,
        "kubernetes.io/serviceaccount/secret.name": secret_name,
        "kubernetes.io/serviceaccount/service-account.name": name,
        "kubernetes.io/serviceaccount/service-account.uid": uid,
        "sub": format!("system:serviceaccount:{namespace}:{name}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> TokenSigner {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        TokenSigner::from_pkcs8(&key.serialize_der(), DEFAULT_ISSUER, Vec::new()).unwrap()
    }

    #[test]
    fn signed_tokens_verify_and_tampered_ones_do_not() {
        let signer = signer();
        let claims = bound_claims(DEFAULT_ISSUER, &signer.audiences, "ns", ("robot", "u-1"), None, 1000, 3600, "j-1");
        let token = signer.sign(&claims);
        assert_eq!(signer.verify(&token), Some(claims.clone()));
        assert_eq!(claims["sub"], "system:serviceaccount:ns:robot");
        assert_eq!(claims["aud"], json!([DEFAULT_ISSUER]));
        assert_eq!(claims["exp"], 4600);

        let mut forged: Vec<&str> = token.split('.').collect();
        let other_claims = b64(json!({"sub": "system:serviceaccount:kube-system:admin"}).to_string().as_bytes());
        forged[1] = &other_claims;
        assert_eq!(signer.verify(&forged.join(".")), None);
        assert_eq!(super::tests::signer().verify(&token), None, "another key's signature does not hold");
        assert_eq!(signer.verify("not.a.token"), None);
        assert_eq!(signer.verify("garbage"), None);
    }

    #[test]
    fn legacy_tokens_carry_the_legacy_claims_only() {
        let signer = signer();
        let claims = legacy_claims("ns", ("robot", "u-1"), "robot-token");
        assert_eq!(
            claims,
            json!({
                "iss": "kubernetes/serviceaccount",
                "kubernetes.io/serviceaccount/namespace": "ns",
                "kubernetes.io/serviceaccount/secret.name": "robot-token",
                "kubernetes.io/serviceaccount/service-account.name": "robot",
                "kubernetes.io/serviceaccount/service-account.uid": "u-1",
                "sub": "system:serviceaccount:ns:robot",
            })
        );
        assert_eq!(signer.verify(&signer.sign(&claims)), Some(claims));
    }

    #[test]
    fn bound_tokens_name_their_object() {
        let pod = BoundObject { kind: "Pod".into(), name: "web".into(), uid: "p-1".into() };
        let claims = bound_claims("iss", &["api".into()], "ns", ("default", "u"), Some(&pod), 0, 600, "j");
        assert_eq!(claims["kubernetes.io"]["pod"], json!({"name": "web", "uid": "p-1"}));
    }

    /// A throwaway 2048-bit RSA key in PKCS#1, made for this test with `openssl genrsa -traditional`.
    const TEST_RSA_PKCS1: &str = "-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAru8cAjMj/wlzMwuJLV3a4ItOZd+ZlexnaqdugUuJp76aN//W
ykAAwM7kvawMkpxQqUaFUwRbavQcWcOdCgzC5MnCdUV5IZEhfFnCzH+qS9g4SsPX
vvj2opJQD+UONnu6FKtL4T61YX4pSi/H481YIGmQJeRGiJ6cYdCSEO6fmXmcDdQb
u6wOXW65V7KLXibORRL/HaX+vPcIKnrE+5L41FRJzEBhnVVBw8GNjVBp7r77Kirc
GGjEUDwb1w7e1T9hJ32YHyXgvwiHUl1tCNMev01z03UfgvTr0Xr5vaf3hpwCX69T
GW6pSpxx/595r7560QElq/BsLA2dXksV9MMPqwIDAQABAoIBAA/7EgD1cQ1kbJy2
KhL15v/qWgAefCZhEVWB9Ctlni6vz+Dbw2B4llkGzYiyRffCxe+g3J8n374WjNx6
bUc0wT0rXVNfRGCXpIp6nLwX0ZPaLdJOr8/naIiTezLohvLdPLOUrnrmQqWkY9s+
IDGkWa+kVSHRB8yFSN36ss1PL09S0OHivXOqlVS28T/tZXXI6NfvIT6ZYPXzSTmF
yPt0BWxan2T3BiutQ0msCqFDHL3FJT4ryz2PvL/p0VeBXym0XcYozX6KaKSzwdMi
cmUB+EIZjHXdwSs0qDmmqjI3Rw37Ald+ujdpZHu9J+0x/2LXSl2y4F1ud9i1NASz
eTF5y2kCgYEA6PPZg790IZQZwapv2nfut7xpNa3Dvm9B04D2NHU3oawPJE9Qc0Xy
lY+yNyVmWgQnnzIUjy33NkQsnSZqd74xthx8X3xFjljG8nM2SODGyTyuWP6jKBhH
3gZqr1DvObEtdHEIpMoMo+lepDKEHFu9yy26C34ZV8kd5v3M/jWnR+UCgYEAwD3I
2aVqYYylDqTlEwYv79fluk/UlkdIi/wg3vpc16IL8fsPLqoFSbBN7Js8i3P7VHkB
Pso/K80YNPWKKaRDx+0Bfhr9xnGHCvpALPIHEDHFm2QN/8Gn54KtREW/ZoIXWrpP
jLzy79LTWPe9vVRmvmPl6FnuoMzvQPbFP6+WYE8CgYA1DDKgOdzsOJmU7IcELQOD
e7hJrQRCPXuz+k4WrAq7Gj9oeVdMqMURIePngvDH1uJe8jyUTldZWDUApFriYcFY
QyxfYiFExRqo42udNPKPqO3a/kGRQ9Y5zSRGQBv5+0rqlULuo8Q1H1OZ+Jb1Dj8u
IX+YVmLXBsl0bJ9d1EH/sQKBgF4spj0AzMl25dDztIiKSmd7Yz3PJ7xqtT5mSBAT
o/G6n5FuRPS+M5LyvGnBbnp+Wcv670I8P5AMi+Q9uO5HWzEQiN+nB1T0foxBJbke
45jqWPyTmkwFKWS/XnQImwfziM9YX+n5EiWsKP73dkrOkvqH47Pcgorhef9gJCbb
tJX/AoGBAK2bCWRevz79Axw9ALupRuw3AhOx/WfAji9JXZdWeAIkTgrq93WNiDT+
sloIdK08b9DzbGyndYhn4kGIgkH7szUfKZkoLp48a5m4Iq1r1urCQMg0D/IRfULk
IRwSAuNW69ZxevhR+ghzET9TW4Q18HEoViKZYRa4UKNTNyWZRWEO
-----END RSA PRIVATE KEY-----
";
    /// Its key id, from `openssl rsa -pubout -outform DER | openssl dgst -sha256 -binary`, base64url.
    const TEST_RSA_KEY_ID: &str = "cT9S1O5BLYG7BWzfZ1ff3DOFg8Z4s9Lzshoh6c2e7jk";

    fn rsa_signer() -> TokenSigner {
        TokenSigner::from_pem(TEST_RSA_PKCS1, DEFAULT_ISSUER, Vec::new()).unwrap()
    }

    #[test]
    fn rsa_keys_sign_rs256_and_verify_with_their_public_key() {
        let signer = rsa_signer();
        assert_eq!(signer.algorithm(), "RS256");
        assert_eq!(signer.key_id(), TEST_RSA_KEY_ID, "the kid is the SHA-256 of the PKIX public key");
        let claims = bound_claims(DEFAULT_ISSUER, &signer.audiences, "ns", ("robot", "u-1"), None, 1000, 3600, "j-1");
        let token = signer.sign(&claims);
        let header: Value = serde_json::from_slice(&unb64(token.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header, json!({"alg": "RS256", "kid": TEST_RSA_KEY_ID}));
        assert_eq!(signer.verify(&token), Some(claims));

        let mut tampered: Vec<&str> = token.split('.').collect();
        let other_claims = b64(json!({"sub": "system:serviceaccount:kube-system:admin"}).to_string().as_bytes());
        tampered[1] = &other_claims;
        assert_eq!(signer.verify(&tampered.join(".")), None);
        assert_eq!(signer.verify(&super::tests::signer().sign(&json!({}))), None, "an ES256 token does not verify");
        assert_eq!(super::tests::signer().verify(&token), None, "nor does an RS256 token with an EC key");
    }

    #[test]
    fn rsa_keys_load_from_pkcs8_as_well() {
        let pkcs1 = PrivateKeyDer::from_pem_slice(TEST_RSA_PKCS1.as_bytes()).unwrap();
        let PrivateKeyDer::Pkcs1(pkcs1) = pkcs1 else { panic!("the test key is PKCS#1") };
        let pkcs8 = der(0x30, &[&der(0x02, &[0])[..], RSA_ALGORITHM, &der(0x04, pkcs1.secret_pkcs1_der())].concat());
        let from_der = TokenSigner::from_pkcs8(&pkcs8, "iss", Vec::new()).unwrap();
        assert_eq!((from_der.algorithm(), from_der.key_id()), ("RS256", TEST_RSA_KEY_ID));
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(&pkcs8)
        );
        let from_pem = TokenSigner::from_pem(&pem, "iss", Vec::new()).unwrap();
        let token = from_pem.sign(&json!({"sub": "x"}));
        assert_eq!(rsa_signer().verify(&token), Some(json!({"sub": "x"})), "the same key either way");
    }

    #[test]
    fn ec_keys_from_pem_stay_es256_with_a_pkix_key_id() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let signer = TokenSigner::from_pem(&key.serialize_pem(), DEFAULT_ISSUER, Vec::new()).unwrap();
        assert_eq!(signer.algorithm(), "ES256");
        assert_eq!(
            signer.key_id(),
            b64(ring::digest::digest(&ring::digest::SHA256, &rcgen::PublicKeyData::subject_public_key_info(&key))
                .as_ref())
        );
        assert!(TokenSigner::from_pem("not a key", "iss", Vec::new()).is_err());
    }
}
