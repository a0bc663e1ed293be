//! The message a page shows after a form post travels in the redirect's query string,
//! signed (HMAC-SHA256) with the session's CSRF token, which only that session knows. A
//! crafted link therefore cannot make a page show text the server did not write ("your
//! session expired, sign in at ...").

use ring::hmac;

fn sign(csrf: &str, kind: &str, message: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, csrf.as_bytes());
    hex::encode(hmac::sign(&key, format!("{kind}\n{message}").as_bytes()).as_ref())
}

/// The query string carrying `message` (an error when `error`) for this session.
pub fn query(csrf: &str, message: &str, error: bool) -> String {
    let kind = if error { "error" } else { "flash" };
    format!("{kind}={}&sig={}", super::form::urlencode(message), sign(csrf, kind, message))
}

/// The flash parameters of a page's address, for pages to extract with `Query`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct FlashQuery {
    pub flash: Option<String>,
    pub error: Option<String>,
    pub sig: Option<String>,
}

impl FlashQuery {
    /// The message to show, when this session's server wrote it.
    pub fn message(self, csrf: &str) -> Option<(bool, String)> {
        read(csrf, self.flash, self.error, self.sig.as_deref())
    }
}

/// The message to show: `(is_error, text)`, only when its signature is this session's.
pub fn read(
    csrf: &str,
    flash: Option<String>,
    error: Option<String>,
    sig: Option<&str>,
) -> Option<(bool, String)> {
    let sig = sig?;
    let (is_error, kind, message) = match (error, flash) {
        (Some(e), _) => (true, "error", e),
        (None, Some(f)) => (false, "flash", f),
        (None, None) => return None,
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, csrf.as_bytes());
    let tag = hex::decode(sig).ok()?;
    hmac::verify(&key, format!("{kind}\n{message}").as_bytes(), &tag).ok()?;
    Some((is_error, message))
}

#[cfg(test)]
mod tests {
    use super::{query, read};

    #[test]
    fn only_messages_signed_for_this_session_are_shown() {
        let q = query("csrf-a", "Host saved", false);
        let sig = q.split("sig=").nth(1);
        assert_eq!(read("csrf-a", Some("Host saved".into()), None, sig), Some((false, "Host saved".into())));
        assert_eq!(read("csrf-b", Some("Host saved".into()), None, sig), None, "another session");
        assert_eq!(read("csrf-a", Some("Sign in at evil.example".into()), None, sig), None, "other text");
        assert_eq!(read("csrf-a", None, Some("Host saved".into()), sig), None, "flash is not error");
        assert_eq!(read("csrf-a", Some("Host saved".into()), None, None), None, "unsigned");
        assert_eq!(read("csrf-a", Some("x".into()), None, Some("zz")), None, "not hex");
    }
}
