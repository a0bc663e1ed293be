//! Recovery codes: ten one-time codes shown once at enrolment, kept only as SHA-256 hashes.
//! Each holds 79 random bits, so unlike passwords a fast hash is safe against guessing.

use super::secret::token_hash;

/// Letters and digits nobody confuses when copying from paper (no 0/o, 1/l/i).
const ALPHABET: &[u8; 31] = b"abcdefghjkmnpqrstuvwxyz23456789";
pub const COUNT: usize = 10;
const LEN: usize = 16;

/// New codes, formatted for people (`abcd-efgh-jkmn-pqrs`), each character drawn uniformly.
pub fn generate() -> Vec<String> {
    (0..COUNT)
        .map(|_| {
            let mut chars = Vec::with_capacity(LEN);
            while chars.len() < LEN {
                let mut b = [0u8; 32];
                getrandom::fill(&mut b).expect("the operating system's random source");
                // Bytes past the last whole multiple of 31 are dropped, so no letter is likelier.
                chars.extend(b.iter().filter(|x| **x < 248).map(|x| ALPHABET[(*x % 31) as usize] as char));
            }
            chars.truncate(LEN);
            chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-")
        })
        .collect()
}

/// The stored hash of a code as typed (case, dashes and spaces do not matter).
pub fn hash(code: &str) -> String {
    let normal: String =
        code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect();
    token_hash(&normal)
}

/// Does this look like a recovery code rather than an app's six digits?
pub fn looks_like(code: &str) -> bool {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).count() == 16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_hash_the_same_however_typed() {
        let codes = generate();
        assert_eq!(codes.len(), COUNT);
        let unique: std::collections::BTreeSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), COUNT);
        let c = &codes[0];
        assert_eq!(c.len(), 19);
        assert!(looks_like(c));
        assert_eq!(hash(c), hash(&c.to_uppercase().replace('-', " ")));
        assert_ne!(hash(c), hash(&codes[1]));
    }
}
