//! Remediation through the server (`serve` with its workers) against a real SSH test host,
//! on both backends: a request is previewed on the host (diffs, risk) without changing it;
//! its requester cannot approve it; someone else with the approve permission can, and the
//! run fixes and verifies each rule as a journaled transaction (an action that fails is
//! rolled back and recorded); a kept fix is rolled back from the API byte for byte; a file
//! edited after a fix makes the rollback fail with a conflict report and stay untouched; a
//! host that changed between preview and approval gets no unreviewed change. Every step is
//! in the audit log. A server killed between applying a change and keeping it leaves a
//! journal its restarted run finds, rolls back and reports, before fixing the rule again.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use common::serve::{Api, Proc, backends, database};
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Low risk, fixed by file changes alone on a fresh test host.
const USERADD: &str = "account_disable_post_pw_expiration";
const ISSUE: &str = "banner_etc_issue_cis";
/// High risk (sshd): its restart cannot run on a test host without systemd, so the run
/// rolls the change back and records the failure.
const SSHD: &str = "sshd_set_max_auth_tries";
const FILES: &[&str] = &["etc/default/useradd", "etc/issue", "etc/ssh/sshd_config.d/00-openwatch.conf"];

type Snapshot = BTreeMap<&'static str, Option<(Vec<u8>, u32, u32, u32)>>;

/// Each file's bytes, mode and owner on the test host (or its absence).
fn files(root: &Path) -> Snapshot {
    FILES
        .iter()
        .map(|f| {
            let p = root.join(f);
            let state = std::fs::metadata(&p)
                .ok()
                .map(|m| (std::fs::read(&p).unwrap(), m.permissions().mode() & 0o7777, m.uid(), m.gid()));
            (*f, state)
        })
        .collect()
}

/// Poll a remediation until it leaves `status`.
async fn until_not(api: &Api, id: i64, status: &str) -> Value {
    let t = Instant::now();
    loop {
        let r = api.get(&format!("/api/v1/remediations/{id}")).await;
        if r["status"] != status {
            return r;
        }
        assert!(t.elapsed() < Duration::from_secs(180), "remediation {id} stuck {status}: {r:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn until_rolled_back(api: &Api, host: i64, tx: &str) -> Value {
    let t = Instant::now();
    loop {
        let list = api.get(&format!("/api/v1/hosts/{host}/transactions")).await;
        let t_ = list["items"].as_array().unwrap().iter().find(|t| t["id"] == tx).unwrap().clone();
        if t_["rollback_status"] != "queued" {
            return t_;
        }
        assert!(t.elapsed() < Duration::from_secs(180), "rollback of {tx} stuck: {t_:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn host_rules(r: &Value, key: &str) -> BTreeMap<String, Value> {
    r["host_results"][0][key]["rules"]
        .as_array()
        .unwrap_or_else(|| panic!("{key}: {r:#}"))
        .iter()
        .map(|x| (x["rule_id"].as_str().unwrap().to_owned(), x.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_preview_approve_run_and_roll_back_through_the_server() {
    if !fleet_available() {
        return;
    }
    for (i, backend) in backends().into_iter().enumerate() {
        let n = 177 + i as u32;
        let (mut fleet, key) = Fleet::with_key();
        let root = fleet.up_root(n, |_| {});
        let dir = tempfile::tempdir().unwrap();
        let db = database(backend, dir.path());
        let serve = Proc::start(
            "serve",
            dir.path(),
            &db,
            &[("OPENWATCH_REGISTER_LOCALHOST", "false"), ("OPENWATCH_FIX_DEADMAN_SECS", "15")],
        );
        let admin = Api::login(&serve.base).await;
        admin
            .post(
                "/api/v1/users",
                json!({"username": "approver", "password": "approver-password-1", "role": "security_admin"}),
            )
            .await;
        admin
            .post(
                "/api/v1/users",
                json!({"username": "viewer", "password": "viewer-password-1", "role": "viewer"}),
            )
            .await;
        let approver = Api::login_as(&serve.base, "approver", "approver-password-1").await;
        let viewer = Api::login_as(&serve.base, "viewer", "viewer-password-1").await;
        let id = admin.root_host(&format!("fix-{n}"), n, &key).await;
        let scan = admin.scan(id).await;
        assert_eq!(scan["status"], "succeeded", "{backend}: {scan}");
        let pristine = files(&root);

        // A viewer may not ask for fixes; unknown or remediation-less rules are refused.
        let (s, _) = viewer
            .call(
                Method::POST,
                "/api/v1/remediations",
                Some(json!({"host_ids": [id], "rule_ids": [USERADD]})),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, b) = admin
            .call(
                Method::POST,
                "/api/v1/remediations",
                Some(json!({"host_ids": [id], "rule_ids": ["no_such_rule"]})),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert!(b.to_string().contains("unknown rule `no_such_rule`"), "{b}");

        // The request is previewed on the host: diffs and risk, nothing changed.
        let (s, created) = admin
            .call(
                Method::POST,
                "/api/v1/remediations",
                Some(json!({"rule_ids": [USERADD, ISSUE, SSHD], "failing_hosts": true, "note": "CIS sweep"})),
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{created}");
        assert_eq!(created["status"], "previewing");
        let rid = created["id"].as_i64().unwrap();
        let r = until_not(&admin, rid, "previewing").await;
        assert_eq!(r["status"], "awaiting_approval", "{backend}: {r:#}");
        assert_eq!(r["risk"], "high", "the sshd change makes the request high risk: {r:#}");
        assert_eq!(r["planned"], 3, "{r:#}");
        let preview = host_rules(&r, "preview");
        assert_eq!(preview[USERADD]["status"], "planned");
        assert!(preview[USERADD]["diff"].as_str().unwrap().contains("+INACTIVE=45"), "{r:#}");
        assert_eq!(preview[USERADD]["risk"], "low");
        assert_eq!(preview[SSHD]["risk"], "high");
        assert_eq!(preview[SSHD]["deadman"], true);
        assert_eq!(files(&root), pristine, "{backend}: a preview changes nothing");

        // The requester cannot approve; a rejection needs a reason.
        let (s, b) =
            admin.call(Method::POST, &format!("/api/v1/remediations/{rid}/approve"), Some(json!({}))).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        assert!(b.to_string().contains("someone else"), "{b}");
        let (s, b) =
            approver.call(Method::POST, &format!("/api/v1/remediations/{rid}/reject"), Some(json!({}))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");

        // Someone else approves: the run fixes and verifies each rule, or rolls it back.
        let approved = approver
            .post(&format!("/api/v1/remediations/{rid}/approve"), json!({"note": "change window 42"}))
            .await;
        assert_eq!(approved["decided_by"], "approver");
        let r = until_not(&admin, rid, "applying").await;
        assert_eq!(r["status"], "done", "{r:#}");
        let run = host_rules(&r, "result");
        assert_eq!(run[USERADD]["status"], "fixed", "{r:#}");
        assert_eq!(run[ISSUE]["status"], "fixed", "{r:#}");
        assert_eq!(run[SSHD]["status"], "failed", "{r:#}");
        let txns = r["transactions"].as_array().unwrap();
        let outcome = |rule: &str| txns.iter().find(|t| t["rule_id"] == rule).unwrap().clone();
        assert_eq!(outcome(USERADD)["outcome"], "fixed");
        assert_eq!(outcome(SSHD)["outcome"], "failed");
        let pre = &outcome(USERADD)["pre_state"][0];
        assert_eq!(pre["path"], "/etc/default/useradd");
        assert_eq!(pre["mode"], "0644", "{pre}");
        assert_eq!(pre["sha256"].as_str().unwrap().len(), 64, "{pre}");
        assert!(std::fs::read_to_string(root.join("etc/default/useradd")).unwrap().contains("INACTIVE=45"));
        assert_eq!(
            files(&root)["etc/ssh/sshd_config.d/00-openwatch.conf"],
            pristine["etc/ssh/sshd_config.d/00-openwatch.conf"],
            "the failed sshd change was rolled back"
        );
        // Nothing left to decide.
        let (s, _) = approver
            .call(Method::POST, &format!("/api/v1/remediations/{rid}/approve"), Some(json!({})))
            .await;
        assert_eq!(s, StatusCode::CONFLICT);

        // A kept fix rolls back to the exact pre-state; twice is refused.
        let useradd_tx = outcome(USERADD)["id"].as_str().unwrap().to_owned();
        admin.post(&format!("/api/v1/transactions/{useradd_tx}/rollback"), json!({})).await;
        let t = until_rolled_back(&admin, id, &useradd_tx).await;
        assert_eq!(t["rollback_status"], "done", "{t:#}");
        assert_eq!(files(&root)["etc/default/useradd"], pristine["etc/default/useradd"], "byte for byte");
        let (s, _) = admin
            .call(Method::POST, &format!("/api/v1/transactions/{useradd_tx}/rollback"), Some(json!({})))
            .await;
        assert_eq!(s, StatusCode::CONFLICT);
        let sshd_tx = outcome(SSHD)["id"].as_str().unwrap().to_owned();
        let (s, _) = admin
            .call(Method::POST, &format!("/api/v1/transactions/{sshd_tx}/rollback"), Some(json!({})))
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "a change that was not kept has nothing to roll back");

        // A file edited after the fix: the rollback fails, names it, and leaves it alone.
        let issue_tx = outcome(ISSUE)["id"].as_str().unwrap().to_owned();
        append(&root, "/etc/issue", "Edited by an operator after the fix.\n");
        let edited = std::fs::read(root.join("etc/issue")).unwrap();
        admin.post(&format!("/api/v1/transactions/{issue_tx}/rollback"), json!({})).await;
        let t = until_rolled_back(&admin, id, &issue_tx).await;
        assert_eq!(t["rollback_status"], "failed", "{t:#}");
        assert!(t["rollback_message"].as_str().unwrap().contains("/etc/issue"), "{t:#}");
        assert_eq!(std::fs::read(root.join("etc/issue")).unwrap(), edited, "the edited file is untouched");

        // The host changes between preview and approval: nothing unreviewed is applied.
        let r2 =
            admin.post("/api/v1/remediations", json!({"host_ids": [id], "rule_ids": [USERADD]})).await["id"]
                .as_i64()
                .unwrap();
        let r = until_not(&admin, r2, "previewing").await;
        assert_eq!(
            (r["status"].as_str(), r["risk"].as_str()),
            (Some("awaiting_approval"), Some("low")),
            "{r:#}"
        );
        append(&root, "/etc/default/useradd", "# edited after the preview\n");
        let changed = files(&root);
        approver.post(&format!("/api/v1/remediations/{r2}/approve"), json!({})).await;
        let r = until_not(&admin, r2, "applying").await;
        let run = host_rules(&r, "result");
        assert_eq!(run[USERADD]["status"], "not_applied", "{r:#}");
        assert!(run[USERADD]["reason"].as_str().unwrap().contains("changed since"), "{r:#}");
        assert_eq!(files(&root), changed, "nothing applied");

        // A rejected request runs nothing.
        let r3 =
            admin.post("/api/v1/remediations", json!({"host_ids": [id], "rule_ids": [USERADD]})).await["id"]
                .as_i64()
                .unwrap();
        until_not(&admin, r3, "previewing").await;
        approver
            .post(&format!("/api/v1/remediations/{r3}/reject"), json!({"note": "not in this window"}))
            .await;
        let r = admin.get(&format!("/api/v1/remediations/{r3}")).await;
        assert_eq!(r["status"], "rejected");
        assert_eq!(r["decision_note"], "not in this window");
        assert_eq!(files(&root), changed);
        let queue = admin.get("/api/v1/remediations?status=awaiting_approval").await;
        assert_eq!(queue["total"], 0, "{queue}");

        // Requests, decisions, runs and rollbacks are in the audit log.
        let audit = admin.get("/api/v1/audit/events?per_page=500").await;
        let actions: Vec<String> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{} {} {}",
                    e["action"].as_str().unwrap(),
                    e["actor"].as_str().unwrap(),
                    e["outcome"].as_str().unwrap()
                )
            })
            .collect();
        for expected in [
            "remediation.request admin success",
            "remediation.approve admin denied",
            "remediation.approve approver success",
            "remediation.reject approver success",
            "remediation.run system success",
            "remediation.rollback admin success",
            "remediation.rollback_run system success",
            "remediation.rollback_run system failure",
        ] {
            assert!(actions.iter().any(|a| a == expected), "{backend}: no `{expected}` in {actions:#?}");
        }
        drop(serve);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_lets_low_risk_fixes_run_without_approval_and_only_those() {
    if !fleet_available() {
        return;
    }
    let n = 180;
    let (mut fleet, key) = Fleet::with_key();
    let root = fleet.up_root(n, |_| {});
    let dir = tempfile::tempdir().unwrap();
    let db = database("sqlite", dir.path());
    let serve = Proc::start(
        "serve",
        dir.path(),
        &db,
        &[("OPENWATCH_REGISTER_LOCALHOST", "false"), ("OPENWATCH_FIX_AUTO_APPROVE_LOW", "true")],
    );
    let admin = Api::login(&serve.base).await;
    let id = admin.root_host("auto", n, &key).await;
    assert_eq!(admin.scan(id).await["status"], "succeeded");

    // Low risk: previewed, approved by the server's policy, run.
    let low = admin.post("/api/v1/remediations", json!({"host_ids": [id], "rule_ids": [USERADD]})).await;
    let low = low["id"].as_i64().unwrap();
    let t = Instant::now();
    let r = loop {
        let r = admin.get(&format!("/api/v1/remediations/{low}")).await;
        if r["status"] == "done" {
            break r;
        }
        assert!(t.elapsed() < Duration::from_secs(120), "{r:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(r["decided_by"], "system", "{r:#}");
    assert_eq!(r["transactions"][0]["outcome"], "fixed", "{r:#}");
    assert!(std::fs::read_to_string(root.join("etc/default/useradd")).unwrap().contains("INACTIVE=45"));

    // High risk still waits for a person.
    let high = admin.post("/api/v1/remediations", json!({"host_ids": [id], "rule_ids": [SSHD]})).await;
    let r = until_not(&admin, high["id"].as_i64().unwrap(), "previewing").await;
    assert_eq!(
        (r["status"].as_str(), r["risk"].as_str()),
        (Some("awaiting_approval"), Some("high")),
        "{r:#}"
    );

    let audit = admin.get("/api/v1/audit/events?action=remediation.approve").await;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor"] == "system" && e["details"]["by"] == "policy"),
        "{audit:#}"
    );
}

/// Poll a remediation until it is done.
async fn until_done(api: &Api, id: i64) -> Value {
    let t = Instant::now();
    loop {
        let r = api.get(&format!("/api/v1/remediations/{id}")).await;
        if r["status"] == "done" {
            return r;
        }
        assert!(t.elapsed() < Duration::from_secs(180), "remediation {id} never finished: {r:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The state in the host's journal of every transaction, by id.
fn journal_states(root: &Path) -> BTreeMap<String, String> {
    let Ok(dir) = std::fs::read_dir(root.join("var/lib/openwatch/journal")) else { return BTreeMap::new() };
    dir.flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| {
            let state = std::fs::read_to_string(e.path().join("state")).ok()?;
            Some((e.file_name().to_string_lossy().into_owned(), state.trim().to_owned()))
        })
        .collect()
}

/// The server killed (SIGKILL) while a change is applied and not yet verified and kept: the
/// host is left with an open transaction. The restarted server takes the job back, its run
/// finds the open journal, rolls it back and says so, then fixes the rule again, verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_change_leaves_a_journal_its_next_run_recovers() {
    if !fleet_available() {
        return;
    }
    let n = 108;
    let (mut fleet, key) = Fleet::with_key();
    let root = fleet.up_root(n, |_| {});
    let dir = tempfile::tempdir().unwrap();
    let db = database("sqlite", dir.path());
    let env = [("OPENWATCH_REGISTER_LOCALHOST", "false"), ("OPENWATCH_FIX_AUTO_APPROVE_LOW", "true")];
    let mut caught = None;
    let mut serve = Proc::start("serve", dir.path(), &db, &env);
    let mut admin = Api::login(&serve.base).await;
    let id = admin.root_host("killed", n, &key).await;
    assert_eq!(admin.scan(id).await["status"], "succeeded");
    // Caught between apply and commit (a fix's verification takes a round trip); a run that
    // got through is rolled back and asked for again.
    for _ in 0..5 {
        let r = admin.post("/api/v1/remediations", json!({"host_ids": [id], "rule_ids": [USERADD]})).await;
        let rid = r["id"].as_i64().unwrap();
        let t = Instant::now();
        let seen = loop {
            let open = journal_states(&root).into_iter().find(|(_, s)| s == "applied");
            if open.is_some() {
                break open;
            }
            if journal_states(&root).values().any(|s| s == "committed") {
                break None;
            }
            assert!(t.elapsed() < Duration::from_secs(120), "the fix never applied");
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        if let Some((tx, _)) = seen {
            let mut killed = serve;
            killed.child.kill().unwrap();
            killed.child.wait().unwrap();
            caught = Some((rid, tx));
            break;
        }
        let done = until_done(&admin, rid).await;
        let tx = done["transactions"][0]["id"].as_str().unwrap().to_owned();
        admin.post(&format!("/api/v1/transactions/{tx}/rollback"), json!({})).await;
        until_rolled_back(&admin, id, &tx).await;
        std::fs::remove_dir_all(root.join("var/lib/openwatch/journal")).unwrap();
    }
    let (rid, open_tx) = caught.expect("never caught the server between apply and commit");
    assert!(
        std::fs::read_to_string(root.join("etc/default/useradd")).unwrap().contains("INACTIVE=45"),
        "the killed server left its change applied"
    );

    serve = Proc::start("serve", dir.path(), &db, &env);
    admin = Api::login(&serve.base).await;
    let r = until_done(&admin, rid).await;
    let recovered = r["host_results"][0]["result"]["recovered"].as_array().cloned().unwrap_or_default();
    assert!(
        recovered.iter().any(|x| x["transaction_id"] == open_tx.as_str() && x["result"] == "rolled back"),
        "the next run says it rolled back the open transaction: {r:#}"
    );
    let states = journal_states(&root);
    assert_eq!(states.get(&open_tx).map(String::as_str), Some("rolled_back"), "{states:?}");
    assert_eq!(r["transactions"][0]["outcome"], "fixed", "{r:#}");
    assert!(std::fs::read_to_string(root.join("etc/default/useradd")).unwrap().contains("INACTIVE=45"));
    drop(serve);
}
