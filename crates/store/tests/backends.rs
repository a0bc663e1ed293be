//! The store's contract, run against both backends: SQLite in a temporary directory and a
//! throwaway PostgreSQL server (set OPENWATCH_SKIP_PG_TESTS=1 to run SQLite only).

mod common;

use common::backends;
use openwatch_core::eval::Status;
use openwatch_core::rule::Severity;
use openwatch_store::*;
use serde_json::json;

fn host(name: &str) -> HostInput {
    HostInput {
        name: name.into(),
        address: "10.0.0.1".into(),
        port: 22,
        username: "root".into(),
        transport: Transport::Ssh,
        credential_id: None,
        sudo: false,
        tags: vec!["prod".into()],
        groups: vec!["web".into()],
        maintenance: false,
        host_key_policy: HostKeyPolicy::Approve,
    }
}

fn result(rule: &str, verdict: &str, severity: &str) -> ResultInput {
    ResultInput {
        rule_id: rule.into(),
        verdict: Status::parse(verdict).unwrap(),
        severity: Severity::parse(severity).unwrap(),
        reason: format!("{rule} is {verdict}"),
        evidence: Some(json!([{"method": "file", "actual": verdict}]).to_string()),
        exception_id: None,
    }
}

fn outcome(scan: &Scan, at: i64, results: Vec<ResultInput>) -> ScanOutcome {
    let fail = results.iter().filter(|r| r.verdict == Status::Fail).count() as i64;
    let pass = results.iter().filter(|r| r.verdict == Status::Pass).count() as i64;
    ScanOutcome {
        scan_id: scan.id,
        host_id: scan.host_id,
        finished_at: at,
        platform: Some("debian 12".into()),
        stats: json!({"round_trips": 1}),
        summary: json!({"pass": pass, "fail": fail}),
        results,
        posture: vec![Posture {
            framework: "cis_debian12".into(),
            pass,
            fail,
            error: 0,
            not_applicable: 0,
            excepted: 0,
        }],
    }
}

async fn scan_once(s: &dyn Store, host_id: i64, at: i64, results: Vec<ResultInput>) -> IngestStats {
    let scan = s
        .queue_scan(
            &ScanRequest { host_id, trigger: "manual".into(), triggered_by: None, max_attempts: 3 },
            at,
        )
        .await
        .unwrap();
    let job = s.claim("w1", &["scan"], 60_000, at).await.unwrap().expect("a job");
    assert_eq!(job.scan_id, Some(scan.id));
    s.mark_scan_running(scan.id, at).await.unwrap();
    s.complete_scan(&job, "w1", &outcome(&scan, at + 10, results)).await.unwrap().expect("lease held")
}

#[tokio::test]
async fn migrations_are_recorded_and_reopening_is_idempotent() {
    for b in backends().await {
        assert_eq!(b.store.migrations().await.unwrap(), (1..=12).collect::<Vec<i64>>(), "{}", b.url);
        let (again, _) = open(&b.url, 2, &b.keys).await.unwrap();
        assert_eq!(again.migrations().await.unwrap(), (1..=12).collect::<Vec<i64>>());
        again.ping().await.unwrap();
    }
}

#[tokio::test]
async fn users_sessions_and_tokens() {
    for b in backends().await {
        let s = &*b.store;
        let u = s
            .create_user(
                &NewUser { username: "ann".into(), password_hash: "h".into(), role: "admin".into() },
                1,
            )
            .await
            .unwrap();
        let dup = s
            .create_user(
                &NewUser { username: "ann".into(), password_hash: "x".into(), role: "viewer".into() },
                2,
            )
            .await;
        assert!(matches!(dup, Err(StoreError::Conflict(_))), "{}", b.url);
        assert_eq!(s.user_by_name("ann").await.unwrap().unwrap().id, u.id);
        s.update_user(u.id, "viewer", true, 3).await.unwrap();
        let u2 = s.user(u.id).await.unwrap().unwrap();
        assert!(u2.disabled);
        assert_eq!(u2.role, "viewer");

        let sess = Session {
            id_hash: "abc".into(),
            user_id: u.id,
            csrf_token: "t".into(),
            created_at: 1,
            last_seen_at: 1,
            expires_at: 99,
            stage: SessionStage::SecondFactor,
            method: SignInMethod::Password,
            provider: None,
            second_factor_at: None,
            source: "192.0.2.1".into(),
        };
        s.create_session(&sess).await.unwrap();
        s.touch_session("abc", 5).await.unwrap();
        assert_eq!(s.session("abc").await.unwrap().unwrap().last_seen_at, 5);
        assert_eq!(s.count_second_factor_failure("abc").await.unwrap(), 1);
        assert_eq!(s.count_second_factor_failure("abc").await.unwrap(), 2);
        assert!(s.second_factor_checked("abc", 7).await.unwrap());
        let done = s.session("abc").await.unwrap().unwrap();
        assert_eq!(
            (done.stage, done.second_factor_at, done.source.as_str()),
            (SessionStage::Full, Some(7), "192.0.2.1")
        );
        assert_eq!(s.user_sessions(u.id).await.unwrap().len(), 1);
        s.delete_user_sessions(u.id).await.unwrap();
        assert!(s.session("abc").await.unwrap().is_none());
        assert!(!s.second_factor_checked("abc", 8).await.unwrap(), "a gone session is not revived");

        // An authenticator app: sealed at rest, confirmed by its first step, steps used once.
        let key = &b.key;
        s.begin_totp(u.id, &key.seal(b"twenty-byte-secret!!").unwrap(), 10).await.unwrap();
        s.begin_totp(u.id, &key.seal(b"another-secret-bytes").unwrap(), 11).await.unwrap();
        let f = s.totp(u.id).await.unwrap().unwrap();
        assert_eq!(
            (key.open(&f.sealed_secret).unwrap(), f.confirmed_at),
            (b"another-secret-bytes".to_vec(), None)
        );
        assert!(s.use_totp_step(u.id, 100, 12).await.unwrap());
        assert!(!s.use_totp_step(u.id, 100, 13).await.unwrap(), "a step is accepted once");
        assert!(!s.use_totp_step(u.id, 99, 13).await.unwrap(), "and no earlier one after it");
        assert!(s.use_totp_step(u.id, 101, 14).await.unwrap());
        assert_eq!(s.totp(u.id).await.unwrap().unwrap().confirmed_at, Some(12));
        let again = s.begin_totp(u.id, &key.seal(b"third-secret-bytes!!").unwrap(), 15).await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "a confirmed app is removed first");
        s.replace_recovery_codes(u.id, &["h1".into(), "h2".into()], 16).await.unwrap();
        assert!(s.use_recovery_code(u.id, "h1", 17).await.unwrap());
        assert!(!s.use_recovery_code(u.id, "h1", 18).await.unwrap(), "a recovery code works once");
        assert_eq!(s.recovery_codes_left(u.id).await.unwrap(), 1);
        assert!(s.delete_totp(u.id).await.unwrap());

        // Security keys, ceremonies taken once, identity links.
        let k = s
            .add_security_key(
                &NewSecurityKey {
                    user_id: u.id,
                    name: "yubi".into(),
                    credential_id: "cred1".into(),
                    passkey: "{}".into(),
                },
                20,
            )
            .await
            .unwrap();
        let dup = s
            .add_security_key(
                &NewSecurityKey {
                    user_id: u.id,
                    name: "again".into(),
                    credential_id: "cred1".into(),
                    passkey: "{}".into(),
                },
                21,
            )
            .await;
        assert!(matches!(dup, Err(StoreError::Conflict(_))));
        s.used_security_key(k.id, "{\"n\":1}", 22).await.unwrap();
        assert_eq!(s.security_keys(u.id).await.unwrap()[0].last_used_at, Some(22));
        assert!(s.delete_security_key(u.id + 1, k.id).await.unwrap().is_none(), "only the owner's keys");
        assert!(s.delete_security_key(u.id, k.id).await.unwrap().is_some());
        let c = AuthChallenge {
            id_hash: "ch".into(),
            kind: ChallengeKind::Sso,
            user_id: None,
            state: "{}".into(),
            expires_at: 100,
        };
        s.put_challenge(&c, 30).await.unwrap();
        assert!(
            s.take_challenge("ch", ChallengeKind::SecurityKeyRegistration, 31).await.unwrap().is_none(),
            "another kind"
        );
        s.put_challenge(&AuthChallenge { id_hash: "ch2".into(), ..c.clone() }, 30).await.unwrap();
        assert!(s.take_challenge("ch2", ChallengeKind::Sso, 31).await.unwrap().is_some());
        assert!(s.take_challenge("ch2", ChallengeKind::Sso, 32).await.unwrap().is_none(), "taken once");
        s.put_challenge(&AuthChallenge { id_hash: "ch3".into(), ..c.clone() }, 30).await.unwrap();
        assert!(s.take_challenge("ch3", ChallengeKind::Sso, 100).await.unwrap().is_none(), "expired");
        s.link_sso("corp", "sub-1", u.id, 40).await.unwrap();
        s.link_sso("corp", "sub-1", u.id, 41).await.unwrap();
        assert_eq!(s.sso_user("corp", "sub-1").await.unwrap(), Some(u.id));
        assert_eq!(s.sso_identities(u.id).await.unwrap()[0].last_sign_in_at, 41);

        let t = s
            .create_token(
                &NewToken {
                    user_id: u.id,
                    name: "ci".into(),
                    role: "operator".into(),
                    token_hash: "th".into(),
                    expires_at: Some(100),
                },
                10,
            )
            .await
            .unwrap();
        assert_eq!(s.use_token("th", 50).await.unwrap().unwrap().id, t.id);
        assert!(s.use_token("th", 100).await.unwrap().is_none(), "expired tokens are refused");
        assert!(s.revoke_token(t.id, 60).await.unwrap());
        assert!(s.use_token("th", 61).await.unwrap().is_none(), "revoked tokens are refused");
        assert_eq!(s.list_tokens(Some(u.id)).await.unwrap().len(), 1);

        s.put_role(
            &CustomRole {
                name: "reader".into(),
                description: "d".into(),
                permissions: vec!["hosts:read".into()],
            },
            1,
        )
        .await
        .unwrap();
        assert_eq!(s.custom_roles().await.unwrap()[0].permissions, vec!["hosts:read"]);
    }
}

#[tokio::test]
async fn hosts_groups_and_credentials() {
    for mut b in backends().await {
        let key = b.key.clone();
        let cred = b
            .store
            .create_credential(
                &NewCredential {
                    name: "root-key".into(),
                    kind: "ssh_key".into(),
                    username: Some("root".into()),
                    sealed: SealedSecrets { secret: key.seal(b"PRIVATE").unwrap(), sudo_secret: None },
                },
                1,
            )
            .await
            .unwrap();
        assert!(!cred.has_sudo_password);
        let sealed = b.store.credential_secrets(cred.id).await.unwrap().unwrap();
        assert_eq!(key.open(&sealed.secret).unwrap(), b"PRIVATE");

        // An authenticator secret is sealed under the same key and re-sealed with it.
        let owner = b
            .store
            .create_user(
                &NewUser { username: "tia".into(), password_hash: "h".into(), role: "admin".into() },
                1,
            )
            .await
            .unwrap();
        b.store.begin_totp(owner.id, &key.seal(b"totp-secret-20-bytes").unwrap(), 1).await.unwrap();
        let old_file = std::fs::read_to_string(&b.keys.credential).unwrap();
        assert_eq!(b.store.rotate_credential_key(2).await.unwrap(), 1);
        assert_ne!(std::fs::read_to_string(&b.keys.credential).unwrap(), old_file, "a new key file");
        b.reopen().await.unwrap();
        let sealed = b.store.credential_secrets(cred.id).await.unwrap().unwrap();
        assert_eq!(b.key.open(&sealed.secret).unwrap(), b"PRIVATE");
        assert!(key.open(&sealed.secret).is_err());
        let totp = b.store.totp(owner.id).await.unwrap().unwrap();
        assert_eq!(b.key.open(&totp.sealed_secret).unwrap(), b"totp-secret-20-bytes");
        let s = &*b.store;

        let mut ids = Vec::new();
        for i in 0..25 {
            let mut h = host(&format!("web{i:02}"));
            h.credential_id = Some(cred.id);
            if i % 5 == 0 {
                h.groups = vec!["web".into(), "db".into()];
            }
            ids.push(s.create_host(&h, 10).await.unwrap().id);
        }
        assert!(matches!(s.create_host(&host("web00"), 11).await, Err(StoreError::Conflict(_))));
        let page = s.list_hosts(&HostQuery::default(), PageRequest::new(Some(2), Some(10))).await.unwrap();
        assert_eq!((page.total, page.items.len()), (25, 10));
        assert_eq!(page.items[0].name, "web10");
        let db = s
            .list_hosts(
                &HostQuery { group: Some("db".into()), ..Default::default() },
                PageRequest::new(None, None),
            )
            .await
            .unwrap();
        assert_eq!(db.total, 5);
        assert_eq!(db.items[0].groups, vec!["db", "web"]);
        let found = s
            .list_hosts(
                &HostQuery { search: Some("WEB1".into()), ..Default::default() },
                PageRequest::new(None, None),
            )
            .await
            .unwrap();
        assert_eq!(found.total, 10);
        // `%` and `_` in a search are letters, not wildcards.
        s.create_host(&host("odd%name_1"), 12).await.unwrap();
        for (search, expect) in [("%", 1), ("_", 1), ("d%n", 1), ("web_", 0), ("\\", 0)] {
            let q = HostQuery { search: Some(search.into()), ..Default::default() };
            let n = s.list_hosts(&q, PageRequest::new(None, None)).await.unwrap().total;
            assert_eq!(n, expect, "search {search:?}");
        }
        let odd = s.host_by_name("odd%name_1").await.unwrap().unwrap();
        assert!(s.delete_host(odd.id, 13).await.unwrap());

        assert!(matches!(s.delete_credential(cred.id).await, Err(StoreError::Invalid(_))), "in use");
        assert!(s.delete_host(ids[0], 20).await.unwrap());
        assert!(s.host(ids[0]).await.unwrap().is_none());
        assert_eq!(
            s.list_hosts(&HostQuery::default(), PageRequest::new(None, None)).await.unwrap().total,
            24
        );
        // The name is free again once the host is deleted.
        s.create_host(&host("web00"), 21).await.unwrap();

        let groups = s.list_groups().await.unwrap();
        let web = groups.iter().find(|g| g.name == "web").unwrap();
        assert_eq!(web.host_count, 25);
        assert_eq!(s.group_host_ids(web.id).await.unwrap().len(), 25);

        let k = ObservedHostKey {
            algorithm: "ssh-ed25519".into(),
            fingerprint: "SHA256:aa".into(),
            public_key: "AAAA".into(),
        };
        let stored = s.observe_host_key(ids[1], &k, HostKeyStatus::Pending, 30).await.unwrap();
        assert_eq!(stored.status, HostKeyStatus::Pending);
        assert_eq!(
            s.observe_host_key(ids[1], &k, HostKeyStatus::Approved, 31).await.unwrap().status,
            HostKeyStatus::Pending,
            "first record wins"
        );
        assert!(s.approve_host_key(ids[1], stored.id, "admin", 32).await.unwrap());
        assert_eq!(s.host_keys(ids[1]).await.unwrap()[0].status, HostKeyStatus::Approved);
    }
}

#[tokio::test]
async fn a_second_scan_records_exactly_the_changes_and_stores_evidence_once() {
    for b in backends().await {
        let s = &*b.store;
        let h = s.create_host(&host("h1"), 1).await.unwrap();
        let first =
            vec![result("a", "pass", "high"), result("b", "fail", "medium"), result("c", "pass", "low")];
        let st = scan_once(s, h.id, 100, first).await;
        assert_eq!((st.results, st.changes), (3, 0), "a first scan is a baseline, not changes ({})", b.url);
        let baseline = s.first_scans(Some(h.id), 10).await.unwrap();
        assert_eq!((baseline.len(), baseline[0].at, baseline[0].host_name.as_str()), (1, 110, "h1"));
        assert_eq!(st.new_evidence, 2, "identical evidence is stored once");

        let second =
            vec![result("a", "pass", "high"), result("b", "pass", "medium"), result("c", "pass", "low")];
        let st = scan_once(s, h.id, 200, second).await;
        assert_eq!(st.changes, 1, "only rule b flipped");
        assert_eq!(st.new_evidence, 0);

        let changes = s.host_changes(Some(h.id), PageRequest::new(None, None)).await.unwrap();
        assert_eq!(changes.total, 1);
        assert_eq!(s.first_scans(None, 10).await.unwrap().len(), 1, "the baseline is recorded once");
        let latest = &changes.items[0];
        assert_eq!(
            (latest.rule_id.as_str(), latest.old_verdict, latest.new_verdict),
            ("b", Some(Status::Fail), Status::Pass)
        );
        let state = s.host_state(h.id, &ResultQuery::default()).await.unwrap();
        assert_eq!(state.len(), 3);
        let a = state.iter().find(|r| r.rule_id == "a").unwrap();
        assert_eq!(a.since_at, 110, "an unchanged verdict keeps its since time");
        let scans = s
            .list_scans(
                &ScanQuery { host_id: Some(h.id), ..Default::default() },
                PageRequest::new(None, None),
            )
            .await
            .unwrap();
        assert_eq!(scans.total, 2);
        assert!(scans.items.iter().all(|x| x.status == ScanStatus::Succeeded));
        let results = s
            .scan_results(
                scans.items[0].id,
                &ResultQuery { verdict: Some(Status::Pass), ..Default::default() },
                PageRequest::new(None, None),
            )
            .await
            .unwrap();
        assert_eq!(results.total, 3);
        let body = s.evidence(results.items[0].evidence_hash.as_ref().unwrap()).await.unwrap().unwrap();
        assert!(body.contains("pass"));
        let host = s.host(h.id).await.unwrap().unwrap();
        assert_eq!((host.reachability.as_str(), host.platform.as_deref()), ("reachable", Some("debian 12")));
        assert_eq!(s.host_posture(h.id).await.unwrap()[0].pass, 3);
        assert_eq!(s.posture_history(h.id, 0).await.unwrap().len(), 2);

        s.roll_up_trend(200).await.unwrap();
        let f = s.fleet_summary(200).await.unwrap();
        assert_eq!((f.hosts, f.scanned_hosts), (1, 1));
        assert_eq!(f.frameworks[0].pass, 3);
        assert!(f.top_failing_rules.is_empty(), "b no longer fails anywhere");
        assert_eq!(f.trend.len(), 1);
        let events = s.events_after(0, 100).await.unwrap();
        assert!(events.iter().any(|e| e.kind == "host.changed"));
        assert_eq!(events.iter().filter(|e| e.kind == "scan.completed").count(), 2);
    }
}

#[tokio::test]
async fn fleet_state_filters_and_framework_figures_count_only_hosts_the_framework_applies_to() {
    for b in backends().await {
        let s = &*b.store;
        let deb = s.create_host(&host("deb-1"), 1).await.unwrap();
        let rhel =
            s.create_host(&HostInput { groups: vec!["db".into()], ..host("rhel_1") }, 1).await.unwrap();
        scan_once(s, deb.id, 10, vec![result("a", "fail", "high"), result("b", "pass", "low")]).await;
        // The RHEL host's posture has no cis_debian12 row: that framework does not apply to it.
        let scan = s
            .queue_scan(
                &ScanRequest {
                    host_id: rhel.id,
                    trigger: "manual".into(),
                    triggered_by: None,
                    max_attempts: 1,
                },
                20,
            )
            .await
            .unwrap();
        let job = s.claim("w1", &["scan"], 60_000, 20).await.unwrap().unwrap();
        let mut o = outcome(&scan, 30, vec![result("a", "fail", "high"), result("b", "fail", "low")]);
        o.posture = vec![Posture {
            framework: "stig_rhel9".into(),
            pass: 0,
            fail: 2,
            error: 0,
            not_applicable: 0,
            excepted: 0,
        }];
        s.complete_scan(&job, "w1", &o).await.unwrap().unwrap();

        let failing = s.failing_hosts_by_rule("cis_debian12").await.unwrap();
        assert_eq!((failing.get("a"), failing.get("b")), (Some(&1), None), "{}", b.url);
        let failing = s.failing_hosts_by_rule("stig_rhel9").await.unwrap();
        assert_eq!((failing.get("a"), failing.get("b")), (Some(&1), Some(&1)));
        let ids = vec!["a".to_owned()];
        assert_eq!(s.rule_verdicts(&ids, None).await.unwrap(), vec![("a".into(), Status::Fail, 2)]);
        assert_eq!(
            s.rule_verdicts(&ids, Some("cis_debian12")).await.unwrap(),
            vec![("a".into(), Status::Fail, 1)]
        );

        let all = |q: FleetStateQuery| async move {
            s.fleet_state(&FleetStateQuery { limit: 100, ..q }).await.unwrap()
        };
        let rows = all(FleetStateQuery { rule_ids: Some(ids.clone()), ..Default::default() }).await;
        let names: Vec<&str> = rows.iter().map(|r| r.host_name.as_str()).collect();
        assert_eq!(names, ["deb-1", "rhel_1"], "ordered by host name");
        assert_eq!(rows[0].reason, "a is fail", "the reason of the scan that decided the verdict");
        assert!(rows[0].evidence_hash.is_some());
        let rows =
            all(FleetStateQuery { framework: Some("cis_debian12".into()), ..Default::default() }).await;
        assert!(rows.iter().all(|r| r.host_id == deb.id) && rows.len() == 2);
        let rows = all(FleetStateQuery { verdict: Some(Status::Fail), ..Default::default() }).await;
        assert_eq!(rows.len(), 3);
        let rows = all(FleetStateQuery {
            severity: Some(Severity::Low),
            verdict: Some(Status::Fail),
            ..Default::default()
        })
        .await;
        assert_eq!((rows.len(), rows[0].host_name.as_str()), (1, "rhel_1"));
        let db = s.list_groups().await.unwrap().into_iter().find(|g| g.name == "db").unwrap();
        let rows = all(FleetStateQuery { group_id: Some(db.id), ..Default::default() }).await;
        assert!(rows.iter().all(|r| r.host_id == rhel.id) && rows.len() == 2);
        let rows = all(FleetStateQuery { host_search: Some("L_".into()), ..Default::default() }).await;
        assert!(
            rows.iter().all(|r| r.host_id == rhel.id) && rows.len() == 2,
            "`_` is a letter, case ignored"
        );
        let rows =
            all(FleetStateQuery { host_id: Some(deb.id), rule_ids: Some(Vec::new()), ..Default::default() })
                .await;
        assert!(rows.is_empty(), "an empty rule list selects nothing");
        s.delete_host(deb.id, 40).await.unwrap();
        assert!(
            all(FleetStateQuery::default()).await.iter().all(|r| r.host_id == rhel.id),
            "deleted hosts leave"
        );
    }
}

#[tokio::test]
async fn fleet_counters_follow_failures_and_deletions() {
    for b in backends().await {
        let s = &*b.store;
        let h1 = s.create_host(&host("h1"), 1).await.unwrap();
        let h2 = s.create_host(&host("h2"), 1).await.unwrap();
        scan_once(s, h1.id, 10, vec![result("a", "fail", "high"), result("b", "fail", "low")]).await;
        scan_once(s, h2.id, 20, vec![result("a", "fail", "high"), result("b", "pass", "low")]).await;
        let f = s.fleet_summary(30).await.unwrap();
        assert_eq!(f.top_failing_rules[0].id, "a");
        assert_eq!(f.top_failing_rules[0].failing, 2);
        assert_eq!(f.failing_by_severity.high, 2);
        assert_eq!(f.top_failing_hosts[0].name, "h1");
        s.delete_host(h1.id, 40).await.unwrap();
        let f = s.fleet_summary(50).await.unwrap();
        assert_eq!(f.top_failing_rules.len(), 1);
        assert_eq!(f.top_failing_rules[0].failing, 1);
        assert_eq!(f.failing_by_severity.high, 1);
        assert_eq!(f.hosts, 1);
    }
}

#[tokio::test]
async fn jobs_one_host_at_a_time_leases_and_the_reaper() {
    for b in backends().await {
        let s = &*b.store;
        let h = s.create_host(&host("h1"), 1).await.unwrap();
        let req = ScanRequest {
            host_id: h.id,
            trigger: "manual".into(),
            triggered_by: Some("ann".into()),
            max_attempts: 2,
        };
        let scan1 = s.queue_scan(&req, 10).await.unwrap();
        let _scan2 = s.queue_scan(&req, 11).await.unwrap();
        let j1 = s.claim("w1", &["scan"], 1_000, 20).await.unwrap().unwrap();
        assert_eq!(j1.scan_id, Some(scan1.id));
        assert!(
            s.claim("w2", &["scan"], 1_000, 20).await.unwrap().is_none(),
            "one running scan per host ({})",
            b.url
        );
        assert!(s.heartbeat(j1.id, "w1", 1_000, 500).await.unwrap());
        assert!(!s.heartbeat(j1.id, "w2", 1_000, 500).await.unwrap(), "only the owner renews");
        assert_eq!(s.reap(1_400).await.unwrap(), 0, "the lease was renewed");
        // w1 dies: its lease runs out; the reaper requeues the job.
        assert_eq!(s.reap(1_600).await.unwrap(), 1);
        assert_eq!(s.scan(scan1.id).await.unwrap().unwrap().status, ScanStatus::Queued);
        let retry = s.claim("w2", &["scan"], 1_000, 1_700).await.unwrap().unwrap();
        assert_eq!((retry.id, retry.attempts), (j1.id, 2));
        // The dead worker's late completion is refused and writes nothing.
        let late = s
            .complete_scan(&j1, "w1", &outcome(&scan1, 1_800, vec![result("a", "pass", "low")]))
            .await
            .unwrap();
        assert!(late.is_none());
        assert!(s.host_state(h.id, &ResultQuery::default()).await.unwrap().is_empty());
        // Second death: attempts are used up, so the job and its scan fail for good.
        assert_eq!(s.reap(10_000).await.unwrap(), 1);
        let failed = s.scan(scan1.id).await.unwrap().unwrap();
        assert_eq!((failed.status.as_str(), failed.error_kind.as_deref()), ("failed", Some("lost")));
        let d = s.queue_depth().await.unwrap();
        assert_eq!((d.queued, d.running, d.failed), (1, 0, 1));
        // A retryable failure goes back to the queue with its backoff.
        let j2 = s.claim("w3", &["scan"], 1_000, 10_001).await.unwrap().unwrap();
        let f = ScanFailure {
            scan_id: j2.scan_id.unwrap(),
            host_id: h.id,
            finished_at: 10_002,
            kind: "unreachable".into(),
            message: "connection refused".into(),
            reachability: Reachability::Unreachable,
        };
        assert!(s.fail_scan(&j2, "w3", &f, Some(20_000)).await.unwrap());
        assert!(s.claim("w3", &["scan"], 1_000, 19_999).await.unwrap().is_none(), "backoff");
        assert!(s.claim("w3", &["scan"], 1_000, 20_000).await.unwrap().is_some());
        assert_eq!(s.host(h.id).await.unwrap().unwrap().reachability, Reachability::Unreachable);
    }
}

#[tokio::test]
async fn concurrent_claims_take_each_job_exactly_once() {
    for b in backends().await {
        let s = b.store.clone();
        let mut hosts = Vec::new();
        for i in 0..20 {
            hosts.push(s.create_host(&host(&format!("h{i}")), 1).await.unwrap().id);
        }
        for (i, h) in hosts.iter().enumerate() {
            for _ in 0..3 {
                s.queue_scan(
                    &ScanRequest { host_id: *h, trigger: "t".into(), triggered_by: None, max_attempts: 1 },
                    i as i64,
                )
                .await
                .unwrap();
            }
        }
        let mut tasks = Vec::new();
        for w in 0..6 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let name = format!("w{w}");
                let mut done = Vec::new();
                let mut idle = 0;
                while idle < 20 {
                    match s.claim(&name, &["scan"], 60_000, 1_000).await.unwrap() {
                        Some(j) => {
                            idle = 0;
                            assert!(s.complete_job(j.id, &name, 1_001).await.unwrap());
                            done.push(j.id);
                        }
                        None => {
                            idle += 1;
                            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                        }
                    }
                }
                done
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all.sort();
        let n = all.len();
        all.dedup();
        assert_eq!((n, all.len()), (60, 60), "every job exactly once ({})", b.url);
    }
}

#[tokio::test]
async fn schedule_fires_are_claimed_once() {
    for b in backends().await {
        let s = &*b.store;
        let h = s.create_host(&host("h1"), 1).await.unwrap();
        let sch = s
            .create_schedule(
                &NewSchedule {
                    target_kind: "host".into(),
                    target_id: h.id,
                    interval_secs: Some(60),
                    cron: None,
                    next_fire_at: 100,
                },
                1,
            )
            .await
            .unwrap();
        assert_eq!(s.due_schedules(99).await.unwrap().len(), 0);
        assert_eq!(s.due_schedules(100).await.unwrap()[0].id, sch.id);
        assert!(s.claim_fire("schedule:1", 100).await.unwrap());
        assert!(!s.claim_fire("schedule:1", 100).await.unwrap());
        s.set_next_fire(sch.id, 160).await.unwrap();
        s.set_next_fire(sch.id, 150).await.unwrap();
        assert_eq!(s.list_schedules().await.unwrap()[0].next_fire_at, 160, "next fire only moves forward");
        assert!(s.adaptive_candidates().await.unwrap().is_empty(), "scheduled hosts are not adaptive");
    }
}

#[tokio::test]
async fn the_audit_chain_detects_edits_and_deletions() {
    for b in backends().await {
        let s = &*b.store;
        for i in 0..5 {
            s.append_audit(&NewAuditEvent {
                at: i,
                actor: "ann".into(),
                action: "host.create".into(),
                target: format!("host:{i}"),
                outcome: "success".into(),
                source: "127.0.0.1".into(),
                correlation_id: format!("c{i}"),
                details: json!({"i": i}),
            })
            .await
            .unwrap();
        }
        let v = s.verify_audit().await.unwrap();
        assert_eq!((v.events, v.unkeyed_events, v.broken), (5, 0, None), "{}", b.url);
        let page = s
            .list_audit(
                &AuditQuery { action: Some("host.".into()), ..Default::default() },
                PageRequest::new(None, Some(2)),
            )
            .await
            .unwrap();
        assert_eq!((page.total, page.items[0].seq), (5, 5));

        b.raw().await.exec("UPDATE audit_events SET target = 'host:99' WHERE seq = 4").await;
        assert_eq!(s.verify_audit().await.unwrap().broken.unwrap().seq, 4, "{}", b.url);
    }
}

#[tokio::test]
async fn typed_columns_keep_their_text_and_refuse_unknown_text() {
    for b in backends().await {
        let s = b.store.as_ref();
        let h = s.create_host(&host("web00"), 10).await.unwrap();
        s.set_reachability(h.id, Reachability::HostKeyPending, None).await.unwrap();
        let raw = b.raw().await;
        let stored = raw
            .strings(&format!("SELECT reachability || ' ' || host_key_policy FROM hosts WHERE id = {}", h.id))
            .await;
        assert_eq!(stored, ["host_key_pending approve"], "{}", b.url);
        scan_once(s, h.id, 12, vec![result("a", "not_applicable", "critical")]).await;
        let q = ScanQuery { host_id: Some(h.id), status: None };
        let scan = s.list_scans(&q, PageRequest::new(None, None)).await.unwrap().items.remove(0);
        assert_eq!(scan.status, ScanStatus::Succeeded);
        let state = s.host_state(h.id, &ResultQuery::default()).await.unwrap();
        assert_eq!((state[0].verdict, state[0].severity), (Status::NotApplicable, Severity::Critical));
        assert_eq!(serde_json::to_value(&state[0]).unwrap()["verdict"], "not_applicable");

        raw.exec(&format!("UPDATE hosts SET reachability = 'sideways' WHERE id = {}", h.id)).await;
        match s.host(h.id).await {
            Err(StoreError::Corrupt(m)) => assert!(m.contains("sideways"), "{}: {m}", b.url),
            other => panic!("{}: expected a corrupt-data error, got {other:?}", b.url),
        }
        raw.exec(&format!("UPDATE scans SET status = 'paused' WHERE id = {}", scan.id)).await;
        assert!(matches!(s.scan(scan.id).await, Err(StoreError::Corrupt(_))), "{}", b.url);
    }
}

#[tokio::test]
async fn groups_are_renamed_and_gain_and_lose_hosts_and_pending_keys_are_listed() {
    for b in backends().await {
        let s = &*b.store;
        let a = s.create_host(&host("a"), 1).await.unwrap();
        let other = s.create_host(&HostInput { groups: vec![], ..host("b") }, 1).await.unwrap();
        let web = s.list_groups().await.unwrap().into_iter().find(|g| g.name == "web").unwrap();
        let db = s.create_group("db", "", 2).await.unwrap();
        assert!(s.update_group(web.id, "frontend", "public web").await.unwrap());
        assert!(!s.update_group(9999, "x", "").await.unwrap());
        assert!(matches!(s.update_group(db.id, "frontend", "").await, Err(StoreError::Conflict(_))));
        let g = s.group(web.id).await.unwrap().unwrap();
        assert_eq!((g.name.as_str(), g.description.as_str(), g.host_count), ("frontend", "public web", 1));
        assert_eq!(s.host(a.id).await.unwrap().unwrap().groups, vec!["frontend"]);

        assert!(s.set_group_member(web.id, other.id, true).await.unwrap());
        assert!(s.set_group_member(web.id, other.id, true).await.unwrap(), "adding twice is harmless");
        assert_eq!(s.group_host_ids(web.id).await.unwrap(), vec![a.id, other.id]);
        assert!(s.set_group_member(web.id, a.id, false).await.unwrap());
        assert_eq!(s.group_host_ids(web.id).await.unwrap(), vec![other.id]);
        assert!(!s.set_group_member(9999, a.id, true).await.unwrap());
        assert!(!s.set_group_member(web.id, 9999, true).await.unwrap());

        let key = |fp: &str| ObservedHostKey {
            algorithm: "ssh-ed25519".into(),
            fingerprint: fp.into(),
            public_key: format!("ssh-ed25519 {fp}"),
        };
        let ka = s.observe_host_key(a.id, &key("SHA256:a"), HostKeyStatus::Pending, 3).await.unwrap();
        let kb = s.observe_host_key(other.id, &key("SHA256:b"), HostKeyStatus::Pending, 3).await.unwrap();
        s.observe_host_key(other.id, &key("SHA256:c"), HostKeyStatus::Approved, 3).await.unwrap();
        let pending: Vec<i64> = s.pending_host_keys().await.unwrap().iter().map(|k| k.id).collect();
        assert_eq!(pending, vec![ka.id, kb.id]);
        assert!(s.approve_host_key(a.id, ka.id, "admin", 4).await.unwrap());
        s.delete_host(other.id, 5).await.unwrap();
        assert!(s.pending_host_keys().await.unwrap().is_empty(), "approved and deleted hosts' keys leave");
    }
}

#[tokio::test]
async fn tailorings_of_a_hosts_groups_and_its_own() {
    for b in backends().await {
        let s = &*b.store;
        let h = s
            .create_host(&HostInput { groups: vec!["web".into(), "dmz".into()], ..host("t1") }, 1)
            .await
            .unwrap();
        let other = s.create_host(&HostInput { groups: Vec::new(), ..host("t2") }, 1).await.unwrap();
        let groups = s.list_groups().await.unwrap();
        let id = |n: &str| groups.iter().find(|g| g.name == n).unwrap().id;
        let body = |v: &str| json!({"frameworks": [], "exclude_rules": [], "variables": {"x": v}});
        s.put_tailoring(TailoringScope::Group(id("web")), &body("5"), "admin", 10).await.unwrap();
        s.put_tailoring(TailoringScope::Group(id("dmz")), &body("3"), "admin", 11).await.unwrap();
        s.put_tailoring(TailoringScope::Host(h.id), &body("2"), "alice", 12).await.unwrap();
        let t = s.host_tailorings(h.id).await.unwrap();
        let names: Vec<&str> = t.groups.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["dmz", "web"], "{}", b.url);
        assert_eq!(t.groups[1].1["variables"]["x"], "5");
        assert_eq!(t.host.as_ref().unwrap()["variables"]["x"], "2");
        let stored = s.tailoring(TailoringScope::Host(h.id)).await.unwrap().unwrap();
        assert_eq!((stored.updated_at, stored.updated_by.as_str()), (12, "alice"));
        // A replacement keeps one row; a deleted tailoring is gone.
        s.put_tailoring(TailoringScope::Host(h.id), &body("1"), "bob", 13).await.unwrap();
        assert_eq!(
            s.tailoring(TailoringScope::Host(h.id)).await.unwrap().unwrap().body["variables"]["x"],
            "1"
        );
        s.delete_tailoring(TailoringScope::Host(h.id)).await.unwrap();
        assert!(s.tailoring(TailoringScope::Host(h.id)).await.unwrap().is_none());
        let t = s.host_tailorings(other.id).await.unwrap();
        assert!(t.groups.is_empty() && t.host.is_none(), "a host in no tailored group has none");
    }
}

#[tokio::test]
async fn the_change_log_keeps_the_evidence_before_and_after_and_filters() {
    for b in backends().await {
        let s = &*b.store;
        let lab = s.create_host(&HostInput { groups: vec!["lab".into()], ..host("h1") }, 1).await.unwrap();
        let other = s.create_host(&host("h2"), 1).await.unwrap();
        let with = |verdict: &str, actual: &str| {
            let mut r = result("sshd_max_auth_tries", verdict, "medium");
            r.evidence = Some(
                json!([{"method": "sshd_config", "source": "/etc/ssh/sshd_config:3", "actual": actual}])
                    .to_string(),
            );
            vec![r, result("other_rule", "pass", "high")]
        };
        for h in [lab.id, other.id] {
            scan_once(s, h, 1_000, with("pass", "4")).await;
            scan_once(s, h, 2_000 + h, with("fail", "10")).await;
        }
        let all = s.find_changes(&ChangeQuery::default(), PageRequest::new(None, None)).await.unwrap();
        assert_eq!(all.total, 2, "{}: one change per host after the baselines", b.url);
        let c = &all.items[0];
        let bodies = s
            .evidence_many(&[c.old_evidence_hash.clone().unwrap(), c.new_evidence_hash.clone().unwrap()])
            .await
            .unwrap();
        assert!(bodies[c.old_evidence_hash.as_ref().unwrap()].contains("\"4\""), "{}", b.url);
        assert!(bodies[c.new_evidence_hash.as_ref().unwrap()].contains("\"10\""), "{}", b.url);
        let count = |q: ChangeQuery| async move {
            s.find_changes(&q, PageRequest::new(None, None)).await.unwrap().total
        };
        let group = s.list_groups().await.unwrap().into_iter().find(|g| g.name == "lab").unwrap().id;
        assert_eq!(count(ChangeQuery { group_id: Some(group), ..Default::default() }).await, 1, "{}", b.url);
        assert_eq!(count(ChangeQuery { host_id: Some(other.id), ..Default::default() }).await, 1);
        assert_eq!(count(ChangeQuery { severity: Some(Severity::High), ..Default::default() }).await, 0);
        assert_eq!(count(ChangeQuery { severity: Some(Severity::Medium), ..Default::default() }).await, 2);
        assert_eq!(
            count(ChangeQuery { rule_ids: Some(vec!["other_rule".into()]), ..Default::default() }).await,
            0
        );
        assert_eq!(count(ChangeQuery { rule_ids: Some(Vec::new()), ..Default::default() }).await, 0);
        let later = 2_010 + lab.id.max(other.id);
        assert_eq!(count(ChangeQuery { since: Some(later), ..Default::default() }).await, 1);
        assert_eq!(count(ChangeQuery { until: Some(later), ..Default::default() }).await, 1);
    }
}

/// A report is queued with its job, shows its progress, keeps its file with the job's
/// completion, and reads as failed once its job has failed for good (its worker died
/// before saying so).
#[tokio::test]
async fn reports_keep_progress_and_file_and_fail_with_their_job() {
    for b in backends().await {
        let s = &b.store;
        let new = NewReport {
            scope: ReportScope::Fleet,
            scope_id: None,
            scope_name: "fleet".into(),
            framework: Some("cis_debian12".into()),
            format: ReportFormat::Pdf,
            detail: ReportDetail::Executive,
            requested_by: "alice".into(),
        };
        let r = s.queue_report(&new, 1_000).await.unwrap();
        assert_eq!((r.status, r.done, r.total), (ReportStatus::Queued, 0, 0));
        let job = s.claim("w1", &["report"], 60_000, 1_001).await.unwrap().expect("the report's job");
        assert_eq!(job.payload["report_id"], r.id);
        s.report_progress(r.id, 3, 10).await.unwrap();
        let now = s.report(r.id).await.unwrap().unwrap();
        assert_eq!((now.status, now.done, now.total), (ReportStatus::Running, 3, 10), "{}", b.url);
        assert!(s.report_file(r.id).await.unwrap().is_none(), "no file before it is drawn");
        let file = ReportFile {
            filename: "report-1-report.pdf".into(),
            content_type: "application/pdf".into(),
            body: b"%PDF-1.7 x".to_vec(),
        };
        assert!(!s.complete_report(&job, "w2", r.id, &file, 1_002).await.unwrap(), "another worker's lease");
        assert!(s.complete_report(&job, "w1", r.id, &file, 1_002).await.unwrap());
        let done = s.report(r.id).await.unwrap().unwrap();
        assert_eq!((done.status, done.done, done.size), (ReportStatus::Succeeded, 10, Some(10)), "{}", b.url);
        assert_eq!(s.report_file(r.id).await.unwrap().unwrap().body, file.body);

        let lost = s.queue_report(&new, 2_000).await.unwrap();
        let job = s.claim("w1", &["report"], 60_000, 2_001).await.unwrap().unwrap();
        s.fail_job(&job, "w1", "worker killed", None, 2_002).await.unwrap();
        let seen = s.report(lost.id).await.unwrap().unwrap();
        assert_eq!(
            (seen.status, seen.error.as_deref()),
            (ReportStatus::Failed, Some("worker killed")),
            "{}",
            b.url
        );
        let page = s.list_reports(PageRequest::new(None, None)).await.unwrap();
        assert_eq!(page.items.iter().map(|r| r.id).collect::<Vec<_>>(), [lost.id, r.id], "newest first");
    }
}
