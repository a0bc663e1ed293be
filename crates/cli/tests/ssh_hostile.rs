//! Hosts that misbehave over SSH, as real sshd test hosts (see testfleet/) scanned by one
//! inventory: hosts whose forced command floods standard output or standard error are cut
//! off at the caps while the scanner's memory stays bounded and the other hosts are scanned;
//! a sudo password given for a host whose sudo is NOPASSWD never reaches the shell, nor any
//! output; password sudo still works, a wrong password is not repeated, and a sudo that never
//! shows OpenWatch's prompt fails as `sudo` instead of being handed the password.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use serde_json::Value;

const FLOOD_OUT: u32 = 151; // root's forced command writes 1 GiB to standard output
const FLOOD_ERR: u32 = 152; // ... and here to standard error
const NOPASSWD: u32 = 153; // tester may sudo without a password
const SUDO_PW: u32 = 154; // tester's sudo asks for the password

/// Given as the sudo password for the NOPASSWD host. Were it ever written to the shell, it
/// would leave its first word in an error, the canary file on the host and exit 7.
const CANARY_PW: &str = "ow-canary-5f1e9d; touch /root/sudo-password-ran; exit 7";
const CANARY_WORD: &str = "ow-canary-5f1e9d";
const TESTER_PW: &str = "tester-sudo-pw-8c2b";
const WRONG_PW: &str = "wrong-sudo-pw-4a7d";

/// Sixteen times the stdout cap, so reading it whole would show in the peak RSS.
const FLOOD: &str = "head -c 1073741824 /dev/zero";

#[test]
fn hostile_hosts_are_cut_off_and_the_sudo_password_only_answers_sudo() {
    if !fleet_available() {
        return;
    }
    let mut fleet = Fleet::new();
    let key = fleet.path("id_ed25519");
    keygen(&key, "ed25519", "");
    let pubkey = fleet.path("id_ed25519.pub");
    let silent = fleet.path("id_silent");
    keygen(&silent, "ed25519", "");
    let key_line = |p: &Path| std::fs::read_to_string(p.with_extension("pub")).unwrap();

    for (n, command) in [(FLOOD_OUT, FLOOD.to_owned()), (FLOOD_ERR, format!("{FLOOD} >&2"))] {
        fleet.up(n, |root| {
            authorize(root, "/root", 0, &pubkey);
            write(root, "/root/.ssh/authorized_keys", &format!("command=\"{command}\" {}", key_line(&key)));
        });
    }
    let nopasswd_root = fleet.up(NOPASSWD, |root| {
        authorize(root, "/root", 0, &pubkey);
        authorize(root, "/home/tester", 1000, &pubkey);
        write(root, "/etc/sudoers.d/tester", "tester ALL=(ALL) NOPASSWD: ALL\n");
    });
    fleet.up(SUDO_PW, |root| {
        authorize(root, "/home/tester", 1000, &pubkey);
        // A second key whose forced command swallows its input: sudo never asks anything.
        append(
            root,
            "/home/tester/.ssh/authorized_keys",
            &format!("command=\"cat >/dev/null\" {}", key_line(&silent)),
        );
        write(root, "/etc/sudoers.d/tester", "tester ALL=(ALL) ALL\n");
        run(std::process::Command::new("chroot").args([
            root.to_str().unwrap(),
            "sh",
            "-c",
            &format!("echo 'tester:{TESTER_PW}' | chpasswd"),
        ]));
    });

    let inventory = format!(
        "defaults:\n  user: root\n  identity_file: {id}\n  known_hosts: {kh}\n  command_timeout: 300\n\
         hosts:\n\
         \x20 - {{name: flood-stdout, address: {out}}}\n\
         \x20 - {{name: flood-stderr, address: {err}}}\n\
         \x20 - {{name: plain, address: {nopw}}}\n\
         \x20 - {{name: nopasswd-given-password, address: {nopw}, user: tester, sudo_password_env: OW_CANARY_PW}}\n\
         \x20 - {{name: sudo-password, address: {pw}, user: tester, sudo_password_env: OW_TESTER_PW}}\n\
         \x20 - {{name: sudo-wrong-password, address: {pw}, user: tester, sudo_password_env: OW_WRONG_PW}}\n\
         \x20 - {{name: sudo-never-asks, address: {pw}, user: tester, identity_file: {silent}, \
         sudo_password_env: OW_TESTER_PW, connect_timeout: 3}}\n",
        id = key.display(),
        kh = fleet.path("known_hosts").display(),
        silent = silent.display(),
        out = addr(FLOOD_OUT),
        err = addr(FLOOD_ERR),
        nopw = addr(NOPASSWD),
        pw = addr(SUDO_PW),
    );
    let inv = fleet.path("inventory.yml");
    std::fs::write(&inv, inventory).unwrap();
    let out = openwatch(
        &[
            "scan",
            "--inventory",
            inv.to_str().unwrap(),
            "--concurrency",
            "8",
            "--no-walk",
            "--format",
            "json",
        ],
        &[("OW_CANARY_PW", CANARY_PW), ("OW_TESTER_PW", TESTER_PW), ("OW_WRONG_PW", WRONG_PW)],
    );
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let shown = text(bytes);
        for secret in [CANARY_WORD, TESTER_PW, WRONG_PW] {
            assert!(!shown.contains(secret), "the sudo password {secret:?} shows in {stream}: {shown}");
        }
    }
    assert!(
        !nopasswd_root.join("root/sudo-password-ran").exists(),
        "the sudo password ran as a shell command on the NOPASSWD host"
    );
    assert_eq!(out.status.code(), Some(2), "hosts that could not be scanned make the exit code 2");
    let doc = json(&out);
    let by_name: BTreeMap<&str, &Value> =
        doc["hosts"].as_array().unwrap().iter().map(|h| (h["host"]["name"].as_str().unwrap(), h)).collect();
    let error =
        |name: &str| (by_name[name]["error"]["kind"].clone(), by_name[name]["error"]["message"].clone());

    // The floods stop at the caps, with an error that says so.
    let (kind, message) = error("flood-stdout");
    assert_eq!(kind, "output_limit", "{message}");
    assert!(message.as_str().unwrap().contains("more than 64 MiB to standard output"), "{message}");
    let (kind, message) = error("flood-stderr");
    assert_eq!(kind, "output_limit", "{message}");
    assert!(message.as_str().unwrap().contains("more than 1 MiB to standard error"), "{message}");
    // Reading a whole flood would take over 1 GiB; the caps keep the scanner far below it.
    let peak_kib = doc["summary"]["client_peak_rss_kib"].as_u64().expect("peak RSS is measured");
    assert!(peak_kib < 256 * 1024, "peak RSS {peak_kib} KiB: the output was not capped");

    // The other hosts were scanned, as root where sudo was asked for.
    for name in ["plain", "nopasswd-given-password", "sudo-password"] {
        let host = by_name[name];
        assert!(host["error"].is_null(), "{name}: {}", host["error"]);
        assert_eq!(host["summary"]["error"], 0, "{name}: {:#}", host["results"]);
        let caps = host["host"]["capabilities"].as_array().unwrap();
        assert!(caps.iter().any(|c| c == "root"), "{name} ran as root: {caps:?}");
    }

    // A wrong password is not repeated to sudo's second prompt; a sudo that never shows
    // OpenWatch's prompt is not given the password at all.
    let (kind, message) = error("sudo-wrong-password");
    assert_eq!(kind, "sudo", "{message}");
    assert!(message.as_str().unwrap().contains("did not accept the password"), "{message}");
    let (kind, message) = error("sudo-never-asks");
    assert_eq!(kind, "sudo", "{message}");
    assert!(message.as_str().unwrap().contains("OpenWatch's prompt"), "{message}");
    assert_eq!(doc["summary"]["hosts_failed"], 4);
}
