//! The audit log's hash chain: each event's hash covers its content and the previous hash,
//! so editing or deleting any stored event breaks every hash after it.

use sha2::{Digest, Sha256};

use crate::model::{AuditBreak, AuditEvent, NewAuditEvent};

/// The hash of event number `seq` with content `e` following `prev_hash`.
pub fn chain_hash(seq: i64, prev_hash: &str, e: &NewAuditEvent) -> String {
    let body = serde_json::json!([
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
    ]);
    hex::encode(Sha256::digest(body.to_string().as_bytes()))
}

/// The first place `events` (all of them, in order) break the chain; `head` is the
/// (seq, hash) the store recorded for the newest event, which catches deleted tail events.
pub fn verify(events: &[AuditEvent], head: Option<(i64, &str)>) -> Option<AuditBreak> {
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
        let content = NewAuditEvent {
            at: e.at,
            actor: e.actor.clone(),
            action: e.action.clone(),
            target: e.target.clone(),
            outcome: e.outcome.clone(),
            source: e.source.clone(),
            correlation_id: e.correlation_id.clone(),
            details: e.details.clone(),
        };
        if chain_hash(e.seq, &prev, &content) != e.hash {
            return Some(AuditBreak { seq: e.seq, problem: "content does not match its hash".into() });
        }
        prev = e.hash.clone();
        expected_seq += 1;
    }
    if let Some((seq, hash)) = head
        && (seq != expected_seq - 1 || hash != prev)
    {
        return Some(AuditBreak {
            seq: expected_seq,
            problem: format!("the chain head records event {seq}, but the log ends at {}", expected_seq - 1),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEvent> {
        let mut prev = String::new();
        (1..=n)
            .map(|seq| {
                let e = NewAuditEvent {
                    at: seq * 1000,
                    actor: "admin".into(),
                    action: "host.create".into(),
                    target: format!("host:{seq}"),
                    outcome: "success".into(),
                    source: "127.0.0.1".into(),
                    correlation_id: format!("c{seq}"),
                    details: serde_json::json!({"n": seq}),
                };
                let hash = chain_hash(seq, &prev, &e);
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
            .collect()
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain(5);
        assert_eq!(verify(&c, Some((5, &c[4].hash))), None);
    }

    #[test]
    fn edited_event_is_found() {
        let mut c = chain(5);
        c[2].target = "host:99".into();
        assert_eq!(verify(&c, None).unwrap().seq, 3);
    }

    #[test]
    fn deleted_event_is_found() {
        let mut c = chain(5);
        c.remove(1);
        assert_eq!(verify(&c, None).unwrap().seq, 2);
    }

    #[test]
    fn deleted_tail_is_found_through_the_head() {
        let c = chain(5);
        let head = c[4].hash.clone();
        assert_eq!(verify(&c[..4], Some((5, &head))).unwrap().seq, 5);
    }

    #[test]
    fn rehashed_edit_still_breaks_the_next_link() {
        let mut c = chain(5);
        c[1].actor = "mallory".into();
        let content = NewAuditEvent {
            at: c[1].at,
            actor: c[1].actor.clone(),
            action: c[1].action.clone(),
            target: c[1].target.clone(),
            outcome: c[1].outcome.clone(),
            source: c[1].source.clone(),
            correlation_id: c[1].correlation_id.clone(),
            details: c[1].details.clone(),
        };
        c[1].hash = chain_hash(2, &c[0].hash, &content);
        assert_eq!(verify(&c, None).unwrap().seq, 3);
    }
}
