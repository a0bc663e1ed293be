//! What the key files protect against someone who can write the database but cannot read
//! the keys: a rewritten audit log (with its head) fails verification, and credential
//! ciphertexts moved between rows or fields do not decrypt. Also how a database from
//! before the keys is adopted. Every case runs on SQLite and PostgreSQL.

mod common;

use common::{Backend, Raw, backends};
use openwatch_store::audit::{ANCHOR_ACTION, legacy_hash};
use openwatch_store::*;
use serde_json::json;

fn event(i: i64) -> NewAuditEvent {
    NewAuditEvent {
        at: 1000 + i,
        actor: "ann".into(),
        action: "host.create".into(),
        target: format!("host:{i}"),
        outcome: "success".into(),
        source: "127.0.0.1".into(),
        correlation_id: format!("c{i}"),
        details: json!({"i": i}),
    }
}

fn content(e: &AuditEvent) -> NewAuditEvent {
    NewAuditEvent {
        at: e.at,
        actor: e.actor.clone(),
        action: e.action.clone(),
        target: e.target.clone(),
        outcome: e.outcome.clone(),
        source: e.source.clone(),
        correlation_id: e.correlation_id.clone(),
        details: e.details.clone(),
    }
}

/// Rewrite every event from `from` on as an attacker without the audit key would: the
/// first one's actor changed, all rehashed with plain SHA-256 and relinked, and the head
/// moved to match.
async fn forge_tail(b: &Backend, raw: &Raw, from: i64) {
    let events = b.store.all_audit().await.unwrap();
    let mut prev = events.iter().find(|e| e.seq == from - 1).map_or(String::new(), |e| e.hash.clone());
    for e in events.iter().filter(|e| e.seq >= from) {
        let mut c = content(e);
        if e.seq == from {
            c.actor = "mallory".into();
        }
        let hash = legacy_hash(e.seq, &prev, &c);
        raw.exec(&format!(
            "UPDATE audit_events SET actor = '{}', prev_hash = '{prev}', hash = '{hash}' WHERE seq = {}",
            c.actor, e.seq
        ))
        .await;
        prev = hash;
    }
    let last = events.last().unwrap().seq;
    raw.exec(&format!("UPDATE audit_head SET seq = {last}, hash = '{prev}' WHERE id = 1")).await;
}

#[tokio::test]
async fn a_rewritten_tail_and_head_fail_verification() {
    for b in backends().await {
        for i in 1..=6 {
            b.store.append_audit(&event(i)).await.unwrap();
        }
        assert_eq!(b.store.verify_audit().await.unwrap().broken, None, "{}", b.url);
        let raw = b.raw().await;
        forge_tail(&b, &raw, 4).await;
        let broken = b.store.verify_audit().await.unwrap().broken.expect("the forgery is found");
        assert_eq!(broken.seq, 4, "{}: {}", b.url, broken.problem);
        assert!(broken.problem.contains("keyed hash"), "{}", broken.problem);
        // The head's MAC cannot be recomputed either: blanking it does not help.
        raw.exec("UPDATE audit_head SET mac = '' WHERE id = 1").await;
        assert_eq!(b.store.verify_audit().await.unwrap().broken.unwrap().seq, 4);
    }
}

#[tokio::test]
async fn a_log_cut_short_with_its_head_moved_back_fails_verification() {
    for b in backends().await {
        for i in 1..=5 {
            b.store.append_audit(&event(i)).await.unwrap();
        }
        let events = b.store.all_audit().await.unwrap();
        let raw = b.raw().await;
        raw.exec(&format!(
            "DELETE FROM audit_events WHERE seq = 5; UPDATE audit_head SET seq = 4, hash = '{}' WHERE id = 1",
            events[3].hash
        ))
        .await;
        let broken = b.store.verify_audit().await.unwrap().broken.expect("the cut is found");
        assert!(broken.problem.contains("MAC"), "{}: {}", b.url, broken.problem);
    }
}

/// Turn a fresh database into one written before audit keys and row binding: three
/// unkeyed events, a head without a MAC, a credential sealed without associated data, and
/// no audit key file yet. Returns the credential's id.
async fn make_pre_key_database(b: &Backend, raw: &Raw) -> i64 {
    let mut prev = String::new();
    for seq in 1..=3 {
        let e = event(seq);
        let hash = legacy_hash(seq, &prev, &e);
        raw.exec(&format!(
            "INSERT INTO audit_events (seq, at, actor, action, target, outcome, source, correlation_id, details, prev_hash, hash) \
             VALUES ({seq}, {}, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{prev}', '{hash}')",
            e.at, e.actor, e.action, e.target, e.outcome, e.source, e.correlation_id, e.details
        ))
        .await;
        prev = hash;
    }
    raw.exec(&format!("UPDATE audit_head SET seq = 3, hash = '{prev}', mac = '' WHERE id = 1")).await;
    raw.exec(&format!(
        "INSERT INTO credentials (name, kind, username, secret, sudo_secret, created_at, updated_at) \
         VALUES ('old', 'password', 'root', {}, {}, 1, 1)",
        raw.bytes(&b.key.seal(b"old-secret").unwrap()),
        raw.bytes(&b.key.seal(b"old-sudo").unwrap()),
    ))
    .await;
    std::fs::remove_file(&b.keys.audit).unwrap();
    raw.strings("SELECT CAST(id AS TEXT) FROM credentials WHERE name = 'old'").await[0].parse().unwrap()
}

#[tokio::test]
async fn a_database_from_before_the_keys_is_adopted_once_at_first_start() {
    for mut b in backends().await {
        let raw = b.raw().await;
        let id = make_pre_key_database(&b, &raw).await;
        b.reopen().await.unwrap();
        let v = b.store.verify_audit().await.unwrap();
        assert_eq!((v.events, v.unkeyed_events, v.broken), (4, 3, None), "{}", b.url);
        let anchor = &b.store.all_audit().await.unwrap()[3];
        assert_eq!((anchor.action.as_str(), &anchor.details), (ANCHOR_ACTION, &json!({"unkeyed_events": 3})));
        b.store.append_audit(&event(5)).await.unwrap();

        // The old credential was bound to its row: it still opens, and only there.
        let sealed = b.store.credential_secrets(id).await.unwrap().unwrap();
        assert_eq!(b.key.open(&sealed.secret).unwrap(), b"old-secret");
        assert_eq!(b.key.open(&sealed.sudo_secret.unwrap()).unwrap(), b"old-sudo");
        let stored = raw.blob(&format!("SELECT secret FROM credentials WHERE id = {id}")).await;
        assert_eq!(stored[0], 2, "stored in the bound format");

        // A restart adopts nothing more, and the pre-key segment stays pinned.
        b.reopen().await.unwrap();
        assert_eq!(b.store.verify_audit().await.unwrap().events, 5);
        forge_tail(&b, &raw, 2).await;
        let broken = b.store.verify_audit().await.unwrap().broken.expect("the forgery is found");
        assert_eq!(broken.seq, 4, "{}: the anchor's keyed link pins the segment", b.url);
    }
}

#[tokio::test]
async fn a_missing_audit_key_is_refused_rather_than_replaced() {
    for mut b in backends().await {
        b.store.append_audit(&event(1)).await.unwrap();
        std::fs::remove_file(&b.keys.audit).unwrap();
        let err = b.reopen().await.unwrap_err().to_string();
        assert!(err.contains("audit key") && err.contains("just been created"), "{}: {err}", b.url);
    }
}

async fn credential(b: &Backend, name: &str, secret: &[u8], sudo: Option<&[u8]>) -> i64 {
    let sealed = SealedSecrets {
        secret: b.key.seal(secret).unwrap(),
        sudo_secret: sudo.map(|s| b.key.seal(s).unwrap()),
    };
    let c = NewCredential { name: name.into(), kind: "password".into(), username: None, sealed };
    b.store.create_credential(&c, 1).await.unwrap().id
}

#[tokio::test]
async fn ciphertexts_moved_between_rows_or_fields_do_not_decrypt() {
    for b in backends().await {
        let a = credential(&b, "a", b"a-secret", Some(b"a-sudo")).await;
        let other = credential(&b, "b", b"b-secret", None).await;
        let raw = b.raw().await;
        let blob = |id: i64, field: &str| format!("SELECT {field} FROM credentials WHERE id = {id}");
        let a_secret = raw.blob(&blob(a, "secret")).await;
        let a_sudo = raw.blob(&blob(a, "sudo_secret")).await;
        let b_secret = raw.blob(&blob(other, "secret")).await;

        raw.exec(&format!(
            "UPDATE credentials SET secret = {} WHERE id = {a}; UPDATE credentials SET secret = {} WHERE id = {other}",
            raw.bytes(&b_secret),
            raw.bytes(&a_secret)
        ))
        .await;
        for id in [a, other] {
            let err = b.store.credential_secrets(id).await.unwrap_err().to_string();
            assert!(
                err.contains(&format!("credential:{id}:secret")) && err.contains("another row or field"),
                "{}: {err}",
                b.url
            );
        }

        raw.exec(&format!(
            "UPDATE credentials SET secret = {}, sudo_secret = {} WHERE id = {a}",
            raw.bytes(&a_sudo),
            raw.bytes(&a_secret)
        ))
        .await;
        let err = b.store.credential_secrets(a).await.unwrap_err().to_string();
        assert!(err.contains(&format!("credential:{a}:secret")), "{}: {err}", b.url);

        raw.exec(&format!(
            "UPDATE credentials SET secret = {}, sudo_secret = {} WHERE id = {a}",
            raw.bytes(&a_secret),
            raw.bytes(&a_sudo)
        ))
        .await;
        let sealed = b.store.credential_secrets(a).await.unwrap().unwrap();
        assert_eq!(b.key.open(&sealed.secret).unwrap(), b"a-secret", "back in place, it opens");
    }
}
