//! The audit log's hash chain. Each event's hash covers its content and the previous hash,
//! so editing or deleting any stored event breaks every hash after it. The hashes are
//! HMAC-SHA256 under the audit key, a file outside the database, and the chain head carries
//! a MAC too: someone who can write the database but not read the key cannot recompute
//! either after rewriting events.
//!
//! Logs written before audit keys existed keep their plain SHA-256 hashes. When such a
//! database first meets its audit key, the store appends an *anchor* event (action
//! [`ANCHOR_ACTION`]), the first keyed one; events before the first anchor are the pre-key
//! segment, checked with SHA-256, and pinned by the anchor's keyed link to the last of them.
//! Without an anchor every event must be keyed.

use ring::hmac;
use sha2::{Digest, Sha256};

use crate::model::{AuditBreak, AuditEvent, NewAuditEvent};

/// The action of the event that starts the keyed part of a log that predates audit keys.
pub const ANCHOR_ACTION: &str = "audit.key_adopted";

/// The key of the audit chain. Its Debug output never shows the key.
#[derive(Clone)]
pub struct AuditKey {
    key: hmac::Key,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

/// The chain head as stored: the newest event's number and hash, and the MAC over both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
    pub mac: String,
}

fn body(seq: i64, prev_hash: &str, e: &NewAuditEvent) -> String {
    serde_json::json!([
        seq,
        prev_hash,
        e.at,
        e.actor,
        e.action,
        e.target,
        e.outcome,
        e.source,
        e.correlation_id,
        e.details,
    ])
    .to_string()
}

/// The unkeyed hash of the pre-key segment (and of every event before audit keys).
pub fn legacy_hash(seq: i64, prev_hash: &str, e: &NewAuditEvent) -> String {
    hex::encode(Sha256::digest(body(seq, prev_hash, e).as_bytes()))
}

impl AuditKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> AuditKey {
        AuditKey { key: hmac::Key::new(hmac::HMAC_SHA256, bytes) }
    }

    /// The keyed hash of event number `seq` with content `e` following `prev_hash`.
    pub fn event_hash(&self, seq: i64, prev_hash: &str, e: &NewAuditEvent) -> String {
        hex::encode(hmac::sign(&self.key, body(seq, prev_hash, e).as_bytes()))
    }

    /// The MAC of the chain head (a three-element message, distinct from any event body).
    pub fn head_mac(&self, seq: i64, hash: &str) -> String {
        let msg = serde_json::json!(["openwatch-audit-head", seq, hash]).to_string();
        hex::encode(hmac::sign(&self.key, msg.as_bytes()))
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

/// How many events precede the keyed part (the pre-key segment): those before the first
/// anchor, none without one.
pub fn unkeyed_events(events: &[AuditEvent]) -> i64 {
    events.iter().find(|e| e.action == ANCHOR_ACTION).map_or(0, |a| a.seq - 1)
}

/// The first place `events` (all of them, in order) break the chain under `key`. `head`,
/// the stored chain head, catches deleted tail events; its MAC, a head rewritten to match.
pub fn verify(key: &AuditKey, events: &[AuditEvent], head: &Head) -> Option<AuditBreak> {
    let keyed_from = unkeyed_events(events) + 1;
    let mut prev = String::new();
    let mut expected_seq = 1;
    for e in events {
        if e.seq != expected_seq {
            return Some(AuditBreak {
                seq: expected_seq,
                problem: format!("event {expected_seq} is missing (next stored event is {})", e.seq),
            });
        }
        if e.prev_hash != prev {
            return Some(AuditBreak { seq: e.seq, problem: "previous-hash link does not match".into() });
        }
        let (want, what) = if e.seq < keyed_from {
            (legacy_hash(e.seq, &prev, &content(e)), "its pre-key (unkeyed) hash")
        } else {
            (key.event_hash(e.seq, &prev, &content(e)), "its keyed hash")
        };
        if want != e.hash {
            return Some(AuditBreak { seq: e.seq, problem: format!("content does not match {what}") });
        }
        prev = e.hash.clone();
        expected_seq += 1;
    }
    let last = expected_seq - 1;
    if head.seq != last || head.hash != prev {
        return Some(AuditBreak {
            seq: expected_seq,
            problem: format!("the chain head records event {}, but the log ends at {last}", head.seq),
        });
    }
    if last > 0 && head.mac != key.head_mac(head.seq, &head.hash) {
        return Some(AuditBreak {
            seq: last,
            problem: "the chain head's MAC does not match (rewritten without the audit key)".into(),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AuditKey {
        AuditKey::from_bytes(&[7; 32])
    }

    fn event(seq: i64, action: &str) -> NewAuditEvent {
        NewAuditEvent {
            at: seq * 1000,
            actor: "admin".into(),
            action: action.into(),
            target: format!("host:{seq}"),
            outcome: "success".into(),
            source: "127.0.0.1".into(),
            correlation_id: format!("c{seq}"),
            details: serde_json::json!({"n": seq}),
        }
    }

    /// `legacy` unkeyed events, then (when `keyed` > 0) an anchor and `keyed - 1` more.
    fn chain(legacy: i64, keyed: i64) -> (Vec<AuditEvent>, Head) {
        let mut prev = String::new();
        let events: Vec<AuditEvent> = (1..=legacy + keyed)
            .map(|seq| {
                let action = if legacy > 0 && seq == legacy + 1 { ANCHOR_ACTION } else { "host.create" };
                let e = event(seq, action);
                let hash = if seq <= legacy {
                    legacy_hash(seq, &prev, &e)
                } else {
                    key().event_hash(seq, &prev, &e)
                };
                let ev = AuditEvent {
                    seq,
                    at: e.at,
                    actor: e.actor,
                    action: e.action,
                    target: e.target,
                    outcome: e.outcome,
                    source: e.source,
                    correlation_id: e.correlation_id,
                    details: e.details,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                ev
            })
            .collect();
        let seq = legacy + keyed;
        let head = Head { seq, mac: key().head_mac(seq, &prev), hash: prev };
        (events, head)
    }

    /// Rewrite event `at` (0-based) and everything after it as an attacker without the
    /// key would: plain SHA-256 hashes, relinked, with a matching head.
    fn forge_from(c: &mut [AuditEvent], head: &mut Head, at: usize) {
        c[at].actor = "mallory".into();
        let mut prev = if at == 0 { String::new() } else { c[at - 1].hash.clone() };
        for e in c[at..].iter_mut() {
            e.prev_hash = prev.clone();
            e.hash = legacy_hash(e.seq, &prev, &content(e));
            prev = e.hash.clone();
        }
        head.hash = prev;
    }

    #[test]
    fn intact_chains_verify() {
        for (legacy, keyed) in [(0, 0), (0, 5), (3, 4)] {
            let (c, head) = chain(legacy, keyed);
            assert_eq!(verify(&key(), &c, &head), None, "{legacy} + {keyed}");
            assert_eq!(unkeyed_events(&c), legacy);
        }
    }

    #[test]
    fn edits_and_deletions_are_found() {
        let (mut c, head) = chain(0, 5);
        c[2].target = "host:99".into();
        assert_eq!(verify(&key(), &c, &head).unwrap().seq, 3);
        let (mut c, head) = chain(0, 5);
        c.remove(1);
        assert_eq!(verify(&key(), &c, &head).unwrap().seq, 2);
        let (c, head) = chain(0, 5);
        assert_eq!(verify(&key(), &c[..4], &head).unwrap().seq, 5);
    }

    #[test]
    fn a_rewritten_tail_with_a_rewritten_head_is_found() {
        let (mut c, mut head) = chain(0, 5);
        forge_from(&mut c, &mut head, 3);
        assert_eq!(verify(&key(), &c, &head).unwrap().seq, 4);
        let (mut c, mut head) = chain(2, 3);
        forge_from(&mut c, &mut head, 3);
        assert_eq!(verify(&key(), &c, &head).unwrap().seq, 4);
    }

    #[test]
    fn a_truncated_log_with_a_head_without_its_mac_is_found() {
        let (c, _) = chain(0, 5);
        let head = Head { seq: 4, hash: c[3].hash.clone(), mac: String::new() };
        assert!(verify(&key(), &c[..4], &head).unwrap().problem.contains("MAC"));
    }

    #[test]
    fn the_pre_key_segment_cannot_be_rewritten_or_extended() {
        let (mut c, mut head) = chain(3, 3);
        forge_from(&mut c, &mut head, 1);
        assert_eq!(verify(&key(), &c, &head).unwrap().seq, 4, "the anchor pins the segment");
        // Renaming the anchor turns the whole log into keyed events, which the old ones are not.
        let (mut c, head) = chain(3, 3);
        c[3].action = "host.create".into();
        assert_eq!(verify(&key(), &c, &head).unwrap().seq, 1);
    }

    #[test]
    fn another_key_does_not_verify() {
        let (c, head) = chain(0, 3);
        assert_eq!(verify(&AuditKey::from_bytes(&[8; 32]), &c, &head).unwrap().seq, 1);
    }
}
