//! Form and URL text: percent-encoding for links and `application/x-www-form-urlencoded`
//! bodies with repeated keys (checkbox lists), which serde's `Form` cannot keep.

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `application/x-www-form-urlencoded` pairs, keeping repeated keys (for checkbox lists).
pub fn pairs(body: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            let hex = (b[i] == b'%')
                .then(|| s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()))
                .flatten();
            match (b[i], hex) {
                (_, Some(byte)) => {
                    out.push(byte);
                    i += 3;
                }
                (b'+', None) => {
                    out.push(b' ');
                    i += 1;
                }
                (c, None) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn form_pairs_keep_repeats_and_decode() {
        let p = super::pairs("_csrf=a%2Bb&host_id=1&host_id=22&x=a+b&y=%zz%4");
        assert_eq!(p[0], ("_csrf".into(), "a+b".into()));
        assert_eq!(p.iter().filter(|(k, _)| k == "host_id").count(), 2);
        assert_eq!(p[3].1, "a b");
        assert_eq!(p[4].1, "%zz%4");
    }
}
