//! Secrets on a scanned host never leave the engine: a real test host holds a .netrc with
//! passwords, a GRUB password hash, an .rhosts trust line and an apt proxy password; it is
//! scanned by `openwatch scan` (every output format) and through `openwatch serve`, and none
//! of those strings may appear in scan output, the database files, any API answer, web page
//! or export, while the verdicts and where they were decided stay visible.

mod common;

use std::path::Path;
use std::process::Command;

use common::serve::{Api, Proc};
use common::*;
use serde_json::{Value, json};

const N: u32 = 141;

const ROOT_NETRC_PW: &str = "netrc-root-pw-Q7vX2mK9";
const TESTER_NETRC_PW: &str = "netrc-tester-pw-R4tY8wB1";
const GRUB_HASH: &str = "9D3F7A1E5B2D4C6E8F0A1B3C5D7E9F1A.5E7A9C1D3F5B7D9E1A3C5E7F9B1D3F5A";
const RHOSTS_HOST: &str = "rhosts-trust-7c1e.example.org";
const APT_PROXY_PW: &str = "apt-proxy-pw-Z3nL5pQ0";
const SECRETS: [&str; 5] = [ROOT_NETRC_PW, TESTER_NETRC_PW, GRUB_HASH, RHOSTS_HOST, APT_PROXY_PW];

/// Fail naming the secret and where it showed up.
#[track_caller]
fn assert_no_secret(what: &str, body: &[u8]) {
    let text = String::from_utf8_lossy(body);
    for s in SECRETS {
        if let Some(at) = text.find(s) {
            let from = text[..at].char_indices().rev().nth(200).map_or(0, |(i, _)| i);
            let to = (at + s.len() + 100).min(text.len());
            let to = (to..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
            panic!("{what} shows the secret {s:?}: ...{}...", &text[from..to]);
        }
    }
}

fn plant(root: &Path) {
    write(root, "/root/.netrc", &format!("machine ftp.example.org login backup password {ROOT_NETRC_PW}\n"));
    write(
        root,
        "/home/tester/.netrc",
        &format!("machine dav.example.org\nlogin tester\npassword {TESTER_NETRC_PW}\n"),
    );
    write(root, "/home/tester/.rhosts", &format!("{RHOSTS_HOST} tester\n"));
    write(
        root,
        "/boot/grub/grub.cfg",
        &format!(
            "set superusers=\"grubadmin\"\npassword_pbkdf2 grubadmin grub.pbkdf2.sha512.10000.{GRUB_HASH}\n\
             menuentry 'Debian' {{\n\tlinux /vmlinuz root=/dev/sda1 ro audit=1\n}}\n"
        ),
    );
    write(
        root,
        "/etc/apt/apt.conf.d/90proxy",
        &format!("Acquire::http::Proxy \"http://mirror:{APT_PROXY_PW}@proxy.example.org:3128\";\n"),
    );
    for f in ["root/.netrc", "home/tester/.netrc", "home/tester/.rhosts"] {
        run(Command::new("chmod").args(["600", root.join(f).to_str().unwrap()]));
    }
}

fn result<'a>(doc: &'a Value, rule: &str) -> &'a Value {
    doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule_id"] == rule)
        .unwrap_or_else(|| panic!("{rule}"))
}

#[test]
fn scan_json_keeps_decisions_and_withholds_secrets() {
    if !fleet_available() {
        return;
    }
    let mut fleet = Fleet::new();
    let key = fleet.path("id_ed25519");
    keygen(&key, "ed25519", "");
    let pubkey = fleet.path("id_ed25519.pub");
    fleet.up(N, |root| {
        authorize(root, "/root", 0, &pubkey);
        plant(root);
    });
    let target = format!("root@{}", addr(N));
    let scan = |format: &str| {
        let kh = fleet.path("known_hosts");
        let args =
            ["scan", &target, "--identity", key.to_str().unwrap(), "--known-hosts", kh.to_str().unwrap()];
        let out = openwatch(&[&args[..], &["--format", format, "--no-walk"]].concat(), &[]);
        assert_no_secret(&format!("scan --format {format}"), &out.stdout);
        assert_no_secret(&format!("scan --format {format}, standard error"), &out.stderr);
        out
    };
    for format in ["table", "jsonl", "csv"] {
        scan(format);
    }
    let doc = json(&scan("json"));

    // What was decided stays: which file, which line, pass or fail.
    let netrc = result(&doc, "no_netrc_files");
    assert_eq!(netrc["verdict"], "fail", "{netrc}");
    let reason = netrc["reason"].as_str().unwrap();
    assert!(reason.contains("/root/.netrc:1") && reason.contains("/home/tester/.netrc:1"), "{reason}");
    let ev = netrc["evidence"].as_array().unwrap();
    assert!(
        ev.iter().any(|e| e["source"] == "/root/.netrc" && e["actual"] == "matched at line 1"),
        "{netrc}"
    );
    assert!(ev.iter().any(|e| e["observed"] == "[withheld: 3 lines]"), "{netrc}");
    let grub = result(&doc, "grub2_password");
    assert_eq!(grub["verdict"], "pass", "{grub}");
    assert!(grub["reason"].as_str().unwrap().contains("/boot/grub/grub.cfg:2"), "{grub}");
    assert_eq!(result(&doc, "no_rsh_trust_files")["verdict"], "fail");
    assert_eq!(result(&doc, "apt_conf_disallow_unauthenticated")["verdict"], "pass");
}

/// GET `path` as `api`, require 200, check the body holds no secret, return it.
async fn fetch(api: &Api, path: &str) -> String {
    let resp = api.client.get(format!("{}{path}", api.base)).send().await.unwrap();
    let status = resp.status();
    let body = resp.bytes().await.unwrap();
    assert_eq!(status, reqwest::StatusCode::OK, "{path}: {}", String::from_utf8_lossy(&body));
    assert_no_secret(path, &body);
    String::from_utf8_lossy(&body).into_owned()
}

/// GET `path` whatever its status, and check the body holds no secret.
async fn probe(api: &Api, path: &str) {
    let body = api.client.get(format!("{}{path}", api.base)).send().await.unwrap().bytes().await.unwrap();
    assert_no_secret(path, &body);
}

/// GET JSON through [`fetch`] (so it is checked for secrets too).
async fn get(api: &Api, path: &str) -> Value {
    serde_json::from_str(&fetch(api, path).await).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every file under `dir` (the SQLite database, its WAL and anything else the server keeps).
fn assert_dir_has_no_secret(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_dir_has_no_secret(&path);
        } else {
            assert_no_secret(&path.display().to_string(), &std::fs::read(&path).unwrap());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_stores_and_shows_no_secret() {
    if !fleet_available() {
        return;
    }
    let mut fleet = Fleet::new();
    let key = fleet.path("id_ed25519");
    keygen(&key, "ed25519", "");
    let pubkey = fleet.path("id_ed25519.pub");
    fleet.up(N + 1, |root| {
        authorize(root, "/root", 0, &pubkey);
        plant(root);
    });
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("openwatch.db").display());
    let serve = Proc::start("serve", dir.path(), &db, &[("OPENWATCH_REGISTER_LOCALHOST", "false")]);
    let s = Api::login(&serve.base).await;
    let cred = s
        .post(
            "/api/v1/credentials",
            json!({"name": "root", "kind": "ssh_key", "username": "root",
                "secret": std::fs::read_to_string(&key).unwrap()}),
        )
        .await;
    let host = s
        .post(
            "/api/v1/hosts",
            json!({"name": "secrets", "address": addr(N + 1), "credential_id": cred["id"]}),
        )
        .await;
    let id = host["id"].as_i64().unwrap();
    let first = s.scan(id).await;
    assert_eq!(first["error_kind"], "host_key_pending", "{first}");
    let keys = get(&s, &format!("/api/v1/hosts/{id}")).await["keys"].clone();
    s.post(&format!("/api/v1/hosts/{id}/keys/{}/approve", keys[0]["id"]), json!({})).await;
    let scan = s.scan(id).await;
    assert_eq!(scan["status"], "succeeded", "{scan}");
    let sid = scan["id"].as_i64().unwrap();

    // Every result, each with its evidence.
    let mut rules = Vec::new();
    for page in 1.. {
        let p = get(&s, &format!("/api/v1/scans/{sid}/results?per_page=500&page={page}")).await;
        let items = p["items"].as_array().unwrap();
        rules.extend(items.iter().map(|r| r["rule_id"].as_str().unwrap().to_owned()));
        if items.is_empty() || rules.len() as i64 >= p["total"].as_i64().unwrap() {
            break;
        }
    }
    assert!(rules.len() > 100, "{} results", rules.len());
    for rule in &rules {
        get(&s, &format!("/api/v1/scans/{sid}/results/{rule}")).await;
    }
    let netrc = get(&s, &format!("/api/v1/scans/{sid}/results/no_netrc_files")).await;
    assert_eq!(netrc["verdict"], "fail");
    assert!(netrc["reason"].as_str().unwrap().contains("/root/.netrc:1"), "{netrc}");
    assert!(netrc["evidence"].to_string().contains("matched at line 1"), "{netrc}");

    get(&s, &format!("/api/v1/hosts/{id}/compliance")).await;

    // Every other GET route the API documents, exports in both formats: whatever each
    // answers, no secret is in it.
    let doc = get(&s, "/api/v1/openapi.json").await;
    let mut probed = 0;
    for (route, ops) in doc["paths"].as_object().unwrap() {
        if ops.get("get").is_none() || route == "/api/v1/events" {
            continue; // the event stream never ends; what it carries are ids and verdicts
        }
        let path = match route.split('/').nth(3) {
            Some("hosts") => route.replace("{id}", &id.to_string()),
            Some("scans") => route.replace("{id}", &sid.to_string()),
            _ => route.clone(),
        }
        .replace("{rule_id}", "no_netrc_files");
        if path.contains('{') {
            continue;
        }
        let queries: &[&str] =
            if path.ends_with("/export") { &["?format=csv", "?format=json"] } else { &[""] };
        for q in queries {
            probe(&s, &format!("{path}{q}")).await;
            probed += 1;
        }
    }
    assert!(probed > 20, "{probed} API routes probed");

    // The web pages and their downloads.
    for verdict in ["", "pass", "fail"] {
        let page = fetch(&s, &format!("/hosts/{id}?verdict={verdict}")).await;
        assert!(page.contains("no_netrc_files") || verdict == "pass", "the host page lists the rule");
        fetch(&s, &format!("/scans/{sid}?verdict={verdict}")).await;
    }
    fetch(&s, &format!("/hosts/{id}/compliance.csv")).await;
    fetch(&s, &format!("/hosts/{id}/compliance.json")).await;
    fetch(&s, &format!("/scans/{sid}/results.csv")).await;
    fetch(&s, &format!("/scans/{sid}/results.json")).await;

    // The database, its WAL and everything else in the data directory, before and after the
    // server stops.
    assert_dir_has_no_secret(dir.path());
    drop(serve);
    assert_dir_has_no_secret(dir.path());
}
