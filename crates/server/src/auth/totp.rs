//! Authenticator apps (RFC 6238: HMAC-SHA1, six digits, 30-second steps, one step of clock
//! drift either way). The secret is 160 random bits; the enrolment QR code is drawn here as
//! SVG, so the secret never leaves the server except in the page that shows it once.

use qrcode::QrCode;
use qrcode::render::svg;
use totp_rs::{Builder, Totp};

/// What the authenticator app and the server agree on; also the issuer shown in the app.
const ISSUER: &str = "OpenWatch";
const STEP_SECS: u64 = 30;

/// A new random secret (20 bytes, as RFC 4226 recommends).
pub fn new_secret() -> Vec<u8> {
    let mut s = vec![0u8; 20];
    getrandom::fill(&mut s).expect("the operating system's random source");
    s
}

fn totp(secret: &[u8], account: &str) -> Result<Totp, String> {
    Builder::new()
        .with_secret(secret)
        .with_account_name(account.replace(':', "_"))
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| format!("authenticator secret: {e}"))
}

/// The secret as the base32 text people type into an app that cannot scan.
pub fn base32(secret: &[u8]) -> String {
    totp_rs::Secret::from(secret).to_base32()
}

/// The `otpauth://` address an app scans.
pub fn provisioning_uri(secret: &[u8], account: &str) -> Result<String, String> {
    totp(secret, account)?.to_url().map_err(|e| format!("authenticator address: {e}"))
}

/// The address as a QR code, an SVG image.
pub fn qr_svg(uri: &str) -> Result<String, String> {
    let code = QrCode::new(uri.as_bytes()).map_err(|e| format!("QR code: {e}"))?;
    Ok(code.render::<svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build())
}

/// The time step `code` is right for, at `now_secs` (the current step or one either side),
/// so the caller can refuse a step used before. Codes are compared in constant time.
pub fn matching_step(secret: &[u8], code: &str, now_secs: u64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret, "check").ok()?;
    let now_step = now_secs / STEP_SECS;
    let mut found = None;
    for step in [now_step.saturating_sub(1), now_step, now_step + 1] {
        let expected = t.generate(step * STEP_SECS).to_string();
        if crate::http::guard::constant_time_eq(expected.as_bytes(), code.as_bytes()) && found.is_none() {
            found = Some(step as i64);
        }
    }
    found
}

/// The code an app shows at `secs` (for tests and the enrolment check).
pub fn code_at(secret: &[u8], secs: u64) -> String {
    totp(secret, "check").map(|t| t.generate(secs).to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_sha1_vectors() {
        // RFC 6238 appendix B, SHA-1, the last six of its eight digits.
        let secret = b"12345678901234567890";
        for (t, code) in
            [(59, "287082"), (1_111_111_109, "081804"), (1_234_567_890, "005924"), (2_000_000_000, "279037")]
        {
            assert_eq!(code_at(secret, t), code, "at {t}");
        }
    }

    #[test]
    fn a_code_matches_its_step_and_one_either_side_only() {
        let secret = new_secret();
        let now = 1_800_000_000;
        let code = code_at(&secret, now);
        assert_eq!(matching_step(&secret, &code, now), Some((now / 30) as i64));
        assert_eq!(matching_step(&secret, &code, now + 30), Some((now / 30) as i64));
        assert_eq!(matching_step(&secret, &code, now - 30), Some((now / 30) as i64));
        assert_eq!(matching_step(&secret, &code, now + 90), None);
        assert_eq!(matching_step(&secret, "12345", now), None);
        assert_eq!(matching_step(&secret, "abcdef", now), None);
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(matching_step(&secret, &spaced, now).is_some(), "spaces as apps show them are fine");
    }

    #[test]
    fn the_qr_code_and_address_name_the_account_and_issuer() {
        let secret = new_secret();
        let uri = provisioning_uri(&secret, "alice").unwrap();
        assert!(uri.starts_with("otpauth://totp/OpenWatch:alice?"), "{uri}");
        assert!(uri.contains(&format!("secret={}", base32(&secret))), "{uri}");
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.contains("<svg") && svg.len() > 1000);
    }
}
