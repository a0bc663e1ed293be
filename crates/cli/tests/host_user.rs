//! Whom a managed host is scanned as, against a real sshd: the host's own user wins over
//! its credential's (the credential's is only the fallback), and a refused login fails the
//! scan with a message naming the address, the user and what was offered.

mod common;

use common::serve::{Api, Proc};
use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hosts_user_wins_and_a_refused_login_says_what_was_tried() {
    if !fleet_available() {
        return;
    }
    let n = 161;
    let (mut fleet, key) = Fleet::with_key();
    // Only `tester` accepts the key; root accepts nothing.
    let pubkey = fleet.path("id_ed25519.pub");
    fleet.up(n, |root| authorize(root, "/home/tester", 1000, &pubkey));

    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("openwatch.db").display());
    let serve = Proc::start("serve", dir.path(), &db, &[("OPENWATCH_REGISTER_LOCALHOST", "false")]);
    let api = Api::login(&serve.base).await;
    let cred = api
        .post(
            "/api/v1/credentials",
            json!({"name": "ops-key", "kind": "ssh_key", "username": "root", "secret": std::fs::read_to_string(&key).unwrap()}),
        )
        .await;
    let host = |name: &str, username: &str| {
        json!({"name": name, "address": addr(n), "username": username, "credential_id": cred["id"],
            "host_key_policy": "accept_new"})
    };

    // The host names tester, its credential root: the scan logs in as tester.
    let mine = api.post("/api/v1/hosts", host("as-tester", "tester")).await;
    let s = api.scan(mine["id"].as_i64().unwrap()).await;
    assert_eq!(s["status"], "succeeded", "scanned as the host's user: {s}");

    // A host naming no user falls back to the credential's, root, whom the server refuses:
    // the failure says whom, where, and what was offered from which credential.
    let theirs = api.post("/api/v1/hosts", host("as-root", "")).await;
    let id = theirs["id"].as_i64().unwrap();
    let s = api.scan(id).await;
    assert_eq!((s["status"].as_str(), s["error_kind"].as_str()), (Some("failed"), Some("auth")), "{s}");
    let message = s["error_message"].as_str().unwrap_or_default();
    for part in [
        "for user 'root'",
        &format!("{}:22", addr(n)),
        "publickey (ssh-ed25519 key from credential 'ops-key')",
        "accepted none of",
    ] {
        assert!(message.contains(part), "{part:?} in {message:?}");
    }
    assert!(!message.contains("PRIVATE KEY"), "no secret in the message");
    let h = api.get(&format!("/api/v1/hosts/{id}")).await;
    assert_eq!(h["host"]["last_error"].as_str(), Some(message), "the host shows the same reason");
    let test = api.post(&format!("/api/v1/hosts/{id}/test"), json!({})).await;
    assert_eq!(test["status"], "auth");
    assert!(test["message"].as_str().unwrap().contains("for user 'root'"), "{test}");
    serve.stop();
}
