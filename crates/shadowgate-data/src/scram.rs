//! SCRAM-SHA-256 client side (RFC 5802, RFC 7677), as PostgreSQL uses it: no channel binding
//! (`n,,`), and an empty user name in the messages (the server takes the startup user).

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// One exchange in progress.
pub struct Scram {
    password: String,
    client_first_bare: String,
    client_nonce: String,
    auth_message: String,
    salted: [u8; 32],
}

#[derive(Debug, PartialEq, Eq)]
pub struct ScramError(pub String);

impl Scram {
    /// Starts an exchange with a printable client nonce (from a random source).
    pub fn new(user: &str, password: &str, client_nonce: &str) -> Scram {
        Scram {
            password: password.to_string(),
            client_first_bare: format!("n={user},r={client_nonce}"),
            client_nonce: client_nonce.to_string(),
            auth_message: String::new(),
            salted: [0; 32],
        }
    }

    pub fn client_first(&self) -> String {
        format!("n,,{}", self.client_first_bare)
    }

    /// Takes the server-first message and returns the client-final message.
    pub fn client_final(&mut self, server_first: &str) -> Result<String, ScramError> {
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for part in server_first.split(',') {
            match part.split_at_checked(2) {
                Some(("r=", v)) => nonce = Some(v),
                Some(("s=", v)) => {
                    salt = Some(
                        base64_decode(v).ok_or_else(|| ScramError("salt is not base64".into()))?,
                    )
                }
                Some(("i=", v)) => iterations = v.parse::<u32>().ok(),
                _ => {}
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err(ScramError(format!("malformed server-first message `{server_first}`")));
        };
        if !nonce.starts_with(&self.client_nonce) || nonce.len() == self.client_nonce.len() {
            return Err(ScramError("the server's nonce does not extend ours".into()));
        }
        if iterations == 0 {
            return Err(ScramError("zero iterations".into()));
        }
        self.salted = pbkdf2(self.password.as_bytes(), &salt, iterations);
        let client_key = hmac(&self.salted, b"Client Key");
        let stored_key: [u8; 32] = Sha256::digest(client_key).into();
        let without_proof = format!("c=biws,r={nonce}");
        self.auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let signature = hmac(&stored_key, self.auth_message.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(signature).map(|(a, b)| a ^ b).collect();
        Ok(format!("{without_proof},p={}", base64_encode(&proof)))
    }

    /// Checks the server-final message: the server proves it knew the password too.
    pub fn verify(&self, server_final: &str) -> Result<(), ScramError> {
        if let Some(e) = server_final.strip_prefix("e=") {
            return Err(ScramError(format!("the server refused: {e}")));
        }
        let v = server_final
            .strip_prefix("v=")
            .and_then(|v| base64_decode(v.split(',').next().unwrap_or(v)))
            .ok_or_else(|| {
                ScramError(format!("malformed server-final message `{server_final}`"))
            })?;
        let server_key = hmac(&self.salted, b"Server Key");
        if v == hmac(&server_key, self.auth_message.as_bytes()) {
            Ok(())
        } else {
            Err(ScramError(
                "the server's signature does not match; it may not be the server it claims".into(),
            ))
        }
    }
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// PBKDF2-HMAC-SHA-256 with one output block (RFC 8018's Hi()).
fn pbkdf2(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut u = hmac(password, &[salt, &1u32.to_be_bytes()].concat());
    let mut out = u;
    for _ in 1..iterations {
        u = hmac(password, &u);
        out.iter_mut().zip(u).for_each(|(o, x)| *o ^= x);
    }
    out
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example exchange of RFC 7677, section 3.
    #[test]
    fn rfc7677_example() {
        let mut s = Scram::new("user", "pencil", "rOprNGfwEbeRWgbNEkqO");
        assert_eq!(s.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        assert_eq!(
            s.client_final(server_first).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        s.verify("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=").unwrap();
        assert!(s.verify("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=").is_err());
        assert!(s.verify("e=invalid-proof").unwrap_err().0.contains("invalid-proof"));
    }

    #[test]
    fn base64_round_trip_and_bad_nonces() {
        for n in 0..40u8 {
            let data: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(base64_decode(&base64_encode(&data)).unwrap(), data);
        }
        assert_eq!(base64_encode(b"n,,"), "biws");
        let mut s = Scram::new("", "pw", "abc");
        assert!(s.client_final("r=xyz,s=QUJD,i=4096").is_err());
        assert!(s.client_final("r=abc,s=QUJD,i=4096").is_err());
        assert!(s.client_final("garbage").is_err());
    }
}
