//! ServiceAccount tokens: compact JWTs signed with the instance's ES256 key, carrying the claims
//! kube-apiserver's TokenRequest puts in a bound token (`iss`, `sub`, `aud`, `exp`, `iat`,
//! `nbf`, `jti` and the private `kubernetes.io` claim), and their verification.

use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, UnparsedPublicKey,
};
use serde_json::{Value, json};

/// The issuer kubeadm clusters use, and so kubetwin's default `--service-account-issuer`.
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok()
}

/// Signs and verifies ServiceAccount tokens with one P-256 key.
pub struct TokenSigner {
    key_pair: EcdsaKeyPair,
    key_id: String,
    pub issuer: String,
    /// Audiences a token must name one of to authenticate (`--api-audiences`; the issuer by
    /// default).
    pub audiences: Vec<String>,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("key_id", &self.key_id)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl TokenSigner {
    /// A signer from a PKCS#8 P-256 private key (DER).
    pub fn from_pkcs8(der: &[u8], issuer: &str, audiences: Vec<String>) -> Result<TokenSigner, String> {
        let key_pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &SystemRandom::new())
            .map_err(|e| format!("the service account signing key is not a PKCS#8 P-256 key: {e}"))?;
        // As kube-apiserver: the key id is the unpadded base64url SHA-256 of the public key.
        let key_id = b64(ring::digest::digest(&ring::digest::SHA256, key_pair.public_key().as_ref()).as_ref());
        let audiences = if audiences.is_empty() { vec![issuer.to_string()] } else { audiences };
        Ok(TokenSigner { key_pair, key_id, issuer: issuer.to_string(), audiences })
    }

    /// A signed compact JWT of `claims`.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "ES256", "kid": self.key_id});
        let signing_input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
        let signature = self
            .key_pair
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .expect("ECDSA signing with a valid key does not fail");
        format!("{signing_input}.{}", b64(signature.as_ref()))
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
        if header["alg"] != "ES256" {
            return None;
        }
        let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, self.key_pair.public_key().as_ref());
        let signing_input = &token[..token.rfind('.')?];
        public.verify(signing_input.as_bytes(), &unb64(signature)?).ok()?;
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
    fn bound_tokens_name_their_object() {
        let pod = BoundObject { kind: "Pod".into(), name: "web".into(), uid: "p-1".into() };
        let claims = bound_claims("iss", &["api".into()], "ns", ("default", "u"), Some(&pod), 0, 600, "j");
        assert_eq!(claims["kubernetes.io"]["pod"], json!({"name": "web", "uid": "p-1"}));
    }
}
