//! The quoting function against real shells and hostile input: whatever the text, it
//! arrives verbatim as one argument and never runs anything.

use std::process::Command;

use openwatch_collect::quote::{quote, quote_glob};
use proptest::prelude::*;

fn shells() -> Vec<&'static str> {
    ["/bin/sh", "/bin/dash", "/bin/bash"].into_iter().filter(|s| std::path::Path::new(s).exists()).collect()
}

/// Run `printf '%s' <quoted>` in `shell` and return what it printed.
fn echo_through(shell: &str, quoted: &str) -> Vec<u8> {
    let out =
        Command::new(shell).arg("-c").arg(format!("printf '%s' {quoted}")).output().expect("shell runs");
    assert!(out.status.success(), "{shell} failed on {quoted:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn hostile() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("'".to_owned()),
        Just("\"".to_owned()),
        Just("$(touch /tmp/openwatch-pwned)".to_owned()),
        Just("`id`".to_owned()),
        Just("${IFS}".to_owned()),
        Just("\n".to_owned()),
        Just("\\".to_owned()),
        Just(";rm -rf /;".to_owned()),
        Just("-n".to_owned()),
        Just("--".to_owned()),
        Just("*".to_owned()),
        Just("|&<>".to_owned()),
        Just("$HOME".to_owned()),
        Just("'\\''".to_owned()),
        "[^\u{0}]{0,8}",
    ];
    prop::collection::vec(piece, 0..8).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn quoted_text_arrives_verbatim(s in hostile()) {
        let q = quote(&s).unwrap();
        for shell in shells() {
            prop_assert_eq!(echo_through(shell, &q), s.as_bytes().to_vec());
        }
        prop_assert!(!std::path::Path::new("/tmp/openwatch-pwned").exists());
    }

    #[test]
    fn glob_quoting_never_executes(s in hostile()) {
        let pattern = format!("/nonexistent-openwatch/{s}");
        let q = quote_glob(&pattern).unwrap();
        let script = format!("for f in {q}; do printf '%s' \"$f\"; done");
        for shell in shells() {
            let out = Command::new(shell).arg("-c").arg(&script).output().unwrap();
            prop_assert!(out.status.success());
            // No match: the shell keeps the pattern as written, proving every non-wildcard
            // character stayed literal.
            prop_assert_eq!(out.stdout, pattern.as_bytes().to_vec());
        }
        prop_assert!(!std::path::Path::new("/tmp/openwatch-pwned").exists());
    }
}

#[test]
fn nul_is_refused() {
    assert!(quote("a\0b").is_err());
    assert!(quote_glob("/a\0*").is_err());
}

#[test]
fn leading_dashes_stay_arguments() {
    for shell in shells() {
        assert_eq!(echo_through(shell, &quote("-e").unwrap()), b"-e");
    }
}
