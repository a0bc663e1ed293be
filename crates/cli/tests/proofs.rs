//! Rule proofs: every rule with a proof in `proofs/` is shown to pass on one real test host
//! and to fail on another (or, where its facts cannot exist on a test host, to pass and fail
//! on that host's recorded facts with the named facts replaced). See docs/proofs.md.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde::Deserialize;
use serde_json::{Value, json};

/// Host numbers of the pass and fail hosts (base, base + 1); OPENWATCH_PROOF_HOST_BASE moves
/// them so proof runs can go on side by side.
fn proof_hosts() -> (u32, u32) {
    let base = std::env::var("OPENWATCH_PROOF_HOST_BASE").ok().and_then(|v| v.parse().ok()).unwrap_or(121);
    (base, base + 1)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProofFile {
    category: String,
    /// Every rule of the category has a proof here.
    #[serde(default)]
    complete: bool,
    proofs: Vec<Proof>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Proof {
    rule: String,
    #[serde(default)]
    pass: Option<Deviation>,
    #[serde(default)]
    fail: Option<Deviation>,
    /// Text the failing result's evidence (actual or observed) must contain.
    #[serde(default)]
    evidence: Option<String>,
    #[serde(default)]
    facts: Option<FactProof>,
    /// Why a rule is proven on recorded facts rather than on a host.
    #[serde(default)]
    why: Option<String>,
    /// Further proofs on recorded facts for other platforms' implementations (e.g. RHEL's,
    /// selected by patching /etc/os-release and the package-manager probes).
    #[serde(default)]
    variants: Vec<Variant>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Variant {
    /// e.g. `rhel9`, `ubuntu2204`.
    platform: String,
    facts: FactProof,
    /// The implementation (capability gate, as scan output reports it) the variant exercises.
    implementation: String,
}

/// Changes to a test host's root before it starts (and sysctls after).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Deviation {
    #[serde(default)]
    files: BTreeMap<String, String>,
    #[serde(default)]
    modes: BTreeMap<String, String>,
    #[serde(default)]
    owners: BTreeMap<String, String>,
    #[serde(default)]
    remove: Vec<String>,
    /// Shell commands run with the host's root as `/` (chroot), e.g. `useradd` or `dpkg --purge`.
    #[serde(default)]
    run: Vec<String>,
    /// Runtime sysctls set in the host's own network namespace.
    #[serde(default)]
    sysctl: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FactProof {
    pass: Vec<FactPatch>,
    fail: Vec<FactPatch>,
}

/// One replaced fact. Exactly one of `file`, `files`, `command`, `module_index`, `unit`,
/// `processes`, `probes` says which.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FactPatch {
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    files: Option<String>,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    absent: bool,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    entries: Vec<PatchEntry>,
    #[serde(default)]
    command: Option<Vec<String>>,
    #[serde(default)]
    stdout: Option<String>,
    #[serde(default)]
    exit_code: Option<i32>,
    #[serde(default)]
    module_index: Option<String>,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    processes: Option<Vec<String>>,
    /// Capability probes to change (the rest stay as the host answered them).
    #[serde(default)]
    probes: Option<ProbePatch>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProbePatch {
    /// Command name -> on the PATH.
    #[serde(default)]
    commands: BTreeMap<String, bool>,
    /// Path -> exists (e.g. `/run/systemd/system` for a running systemd).
    #[serde(default)]
    paths: BTreeMap<String, bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchEntry {
    path: String,
    content: String,
    #[serde(default)]
    mode: Option<String>,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn load_proofs() -> Vec<ProofFile> {
    let mut out = Vec::new();
    let dir = repo().join("proofs");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "yml")).collect())
        .unwrap_or_default();
    paths.sort();
    for p in paths {
        let text = std::fs::read_to_string(&p).unwrap();
        let file: ProofFile =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        // OPENWATCH_PROOF_CATEGORIES=ssh,network runs only those files (while writing proofs).
        if let Ok(only) = std::env::var("OPENWATCH_PROOF_CATEGORIES")
            && !only.split(',').any(|c| c == file.category)
        {
            continue;
        }
        out.push(file);
    }
    out
}

fn apply(root: &Path, d: &Deviation) {
    for (path, content) in &d.files {
        write(root, path, content);
    }
    for (path, mode) in &d.modes {
        run(Command::new("chmod").args([mode, root.join(path.trim_start_matches('/')).to_str().unwrap()]));
    }
    for (path, owner) in &d.owners {
        // Names resolve inside the host, so chown runs there.
        run(Command::new("chroot").args([root.to_str().unwrap(), "chown", owner, path]));
    }
    for path in &d.remove {
        let p = root.join(path.trim_start_matches('/'));
        if p.is_dir() {
            std::fs::remove_dir_all(&p).unwrap();
        } else if p.exists() || p.is_symlink() {
            std::fs::remove_file(&p).unwrap();
        }
    }
    for cmd in &d.run {
        run(Command::new("chroot")
            .args([root.to_str().unwrap(), "/bin/sh", "-ec", cmd])
            .env("DEBIAN_FRONTEND", "noninteractive"));
    }
}

fn octal(mode: &Option<String>) -> u32 {
    mode.as_deref().map_or(0o644, |m| u32::from_str_radix(m, 8).expect("octal mode"))
}

fn entry(path: &str, content: &str, mode: &Option<String>) -> Value {
    json!({"path": path, "kind": "regular", "mode": octal(mode), "uid": 0, "gid": 0, "user": "root",
           "group": "root", "size": content.len(), "content": content})
}

/// Replace facts in a saved facts document.
fn patch(doc: &mut Value, patches: &[FactPatch]) {
    let facts = doc["facts"]["facts"].as_array_mut().expect("saved facts list");
    for p in patches {
        let (key, value) = if let Some(path) = p.file.as_ref().or(p.files.as_ref()) {
            let data: Vec<Value> = if p.absent {
                Vec::new()
            } else if let Some(c) = &p.content {
                vec![entry(path, c, &p.mode)]
            } else {
                p.entries.iter().map(|e| entry(&e.path, &e.content, &e.mode)).collect()
            };
            facts.retain(|f| !(f["key"]["kind"] == "files" && f["key"]["pattern"] == path.as_str()));
            (
                json!({"kind": "files", "pattern": path, "content": true}),
                json!({"type": "files", "data": data}),
            )
        } else if let Some(argv) = &p.command {
            let out = json!({"exit_code": p.exit_code.unwrap_or(0), "stdout": p.stdout.clone().unwrap_or_default(), "stderr": ""});
            (json!({"kind": "command", "argv": argv}), json!({"type": "command", "data": out}))
        } else if let Some(index) = &p.module_index {
            let out = json!({"exit_code": 0, "stdout": index, "stderr": ""});
            (json!({"kind": "module_index"}), json!({"type": "command", "data": out}))
        } else if let Some(unit) = &p.unit {
            (json!({"kind": "unit_file", "unit": unit}), json!({"type": "unit_file", "data": p.state}))
        } else if let Some(names) = &p.processes {
            (json!({"kind": "processes"}), json!({"type": "processes", "data": names}))
        } else if let Some(probes) = &p.probes {
            let mut value = facts
                .iter()
                .find(|f| f["key"]["kind"] == "probes")
                .map(|f| f["value"].clone())
                .expect("the host's probes were recorded");
            for (name, on) in &probes.commands {
                value["data"]["commands"][name] = json!(on);
            }
            for (path, on) in &probes.paths {
                value["data"]["paths"][path] = json!(on);
            }
            (json!({"kind": "probes"}), value)
        } else {
            panic!("a fact patch names no fact: {p:?}");
        };
        facts.retain(|f| f["key"] != key);
        facts.push(json!({"key": key, "value": value}));
    }
}

fn result<'a>(doc: &'a Value, rule: &str) -> Option<&'a Value> {
    doc["results"].as_array()?.iter().find(|r| r["rule_id"] == rule)
}

fn evidence_has(r: &Value, needle: &str) -> bool {
    r["evidence"].as_array().is_some_and(|ev| {
        ev.iter().any(|e| {
            ["actual", "observed", "source"]
                .iter()
                .any(|k| e[*k].as_str().is_some_and(|s| s.contains(needle)))
        })
    })
}

#[test]
fn every_proven_rule_passes_and_fails_where_it_should() {
    let files = load_proofs();
    assert!(!files.is_empty(), "no proofs in proofs/");
    let listed: Value =
        serde_json::from_slice(&openwatch(&["rules", "list", "--format", "json"], &[]).stdout).unwrap();
    let categories: BTreeMap<String, String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_owned(), r["category"].as_str().unwrap().to_owned()))
        .collect();

    // The proof files themselves: known rules, one proof each, complete categories complete.
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for f in &files {
        for p in &f.proofs {
            match categories.get(&p.rule) {
                None => problems.push(format!("{}: no rule `{}`", f.category, p.rule)),
                Some(c) if *c != f.category => {
                    problems.push(format!("{}: `{}` is in category {c}", f.category, p.rule))
                }
                _ => {}
            }
            if !seen.insert(p.rule.clone()) {
                problems.push(format!("`{}` has two proofs", p.rule));
            }
            let host = p.pass.is_some() && p.fail.is_some();
            if host == p.facts.is_some() {
                problems.push(format!("`{}` needs either pass and fail, or facts", p.rule));
            }
            if p.facts.is_some() && p.why.is_none() {
                problems.push(format!("`{}` is proven on facts but says not why", p.rule));
            }
        }
        if f.complete {
            for (rule, c) in &categories {
                if *c == f.category && !seen.contains(rule) {
                    problems.push(format!("{} claims to be complete but `{rule}` has no proof", f.category));
                }
            }
        }
    }
    // docs/proofs.md lists exactly the rules proven on recorded facts.
    if std::env::var_os("OPENWATCH_PROOF_CATEGORIES").is_none() {
        let docs = std::fs::read_to_string(repo().join("docs/proofs.md")).unwrap();
        let listed: BTreeSet<&str> = docs
            .split("## Rules proven on recorded facts")
            .nth(1)
            .unwrap_or("")
            .lines()
            .filter_map(|l| l.strip_prefix("| `").and_then(|l| l.split('`').next()))
            .collect();
        let on_facts: BTreeSet<&str> = files
            .iter()
            .flat_map(|f| &f.proofs)
            .filter(|p| p.facts.is_some())
            .map(|p| p.rule.as_str())
            .collect();
        for r in on_facts.difference(&listed) {
            problems.push(format!("docs/proofs.md does not list `{r}`, which is proven on recorded facts"));
        }
        for r in listed.difference(&on_facts) {
            problems.push(format!("docs/proofs.md lists `{r}`, which is not proven on recorded facts"));
        }
    }
    assert!(problems.is_empty(), "proof files:\n{}", problems.join("\n"));
    if !fleet_available() {
        return;
    }

    let mut fleet = Fleet::new();
    let key = fleet.path("id_ed25519");
    keygen(&key, "ed25519", "");
    let pubkey = fleet.path("id_ed25519.pub");
    let proofs: Vec<&Proof> = files.iter().flat_map(|f| &f.proofs).collect();
    let (pass_host, fail_host) = proof_hosts();
    for (n, pick) in [(pass_host, true), (fail_host, false)] {
        fleet.up(n, |root| {
            authorize(root, "/root", 0, &pubkey);
            // The scanner logs in as root even where a proof forbids root logins: a Match block
            // (which sshd -T, reporting global settings, does not apply) lets this address in.
            write(
                root,
                "/etc/ssh/sshd_config.d/99-proof-scanner.conf",
                "Match Address 10.201.0.1\n    PermitRootLogin prohibit-password\n",
            );
            for p in &proofs {
                if let Some(d) = if pick { &p.pass } else { &p.fail } {
                    apply(root, d);
                }
            }
        });
        for p in &proofs {
            if let Some(d) = if pick { &p.pass } else { &p.fail } {
                for (k, v) in &d.sysctl {
                    host_sh(&["exec", &n.to_string(), "sysctl", "-qw", &format!("{k}={v}")]);
                }
            }
        }
    }
    let kh = fleet.path("known_hosts");
    let scan = |n: u32, facts: &Path| {
        let out = openwatch(
            &[
                "scan",
                &format!("root@{}", addr(n)),
                "--identity",
                key.to_str().unwrap(),
                "--known-hosts",
                kh.to_str().unwrap(),
                "--format",
                "json",
                "--save-facts",
                facts.to_str().unwrap(),
            ],
            &[],
        );
        json(&out)
    };
    let (pass_facts, fail_facts) = (fleet.path("pass.facts.json"), fleet.path("fail.facts.json"));
    let (on_pass, on_fail) = (scan(pass_host, &pass_facts), scan(fail_host, &fail_facts));

    // `rule`'s result on `base` facts with `patches` applied (written to NAME.facts.json).
    let scan_patched = |base: &Path, patches: &[FactPatch], rule: &str, name: &str| -> Value {
        let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(base).unwrap()).unwrap();
        patch(&mut doc, patches);
        let patched = fleet.path(&format!("{name}.facts.json"));
        std::fs::write(&patched, doc.to_string()).unwrap();
        let out = json(&openwatch(
            &["scan", "--facts", patched.to_str().unwrap(), "--rule", rule, "--format", "json"],
            &[],
        ));
        out["results"][0].clone()
    };
    let mut failures = Vec::new();
    let mut proven = (0, 0, 0);
    for p in &proofs {
        // (verdict-bearing result, expected verdict) pairs for this proof.
        let mut checked: Vec<(Value, &str)> = Vec::new();
        match &p.facts {
            None => {
                for (doc, want) in [(&on_pass, "pass"), (&on_fail, "fail")] {
                    match result(doc, &p.rule) {
                        Some(r) => checked.push((r.clone(), want)),
                        None => failures.push(format!("{} was not evaluated on the {want} host", p.rule)),
                    }
                }
                proven.0 += 1;
            }
            Some(fp) => {
                for (base, patches, want) in
                    [(&pass_facts, &fp.pass, "pass"), (&fail_facts, &fp.fail, "fail")]
                {
                    checked.push((scan_patched(base, patches, &p.rule, &format!("{}.{want}", p.rule)), want));
                }
                proven.1 += 1;
            }
        }
        for v in &p.variants {
            for (base, patches, want) in
                [(&pass_facts, &v.facts.pass, "pass"), (&fail_facts, &v.facts.fail, "fail")]
            {
                let r = scan_patched(base, patches, &p.rule, &format!("{}.{}.{want}", p.rule, v.platform));
                if r["implementation"] != v.implementation.as_str() {
                    failures.push(format!(
                        "{} ({}): used implementation {} instead of {}",
                        p.rule, v.platform, r["implementation"], v.implementation
                    ));
                }
                checked.push((r, want));
            }
            proven.2 += 1;
        }
        for (r, want) in &checked {
            if r["verdict"] != *want {
                failures.push(format!("{} should {want}: {} ({})", p.rule, r["verdict"], r["reason"]));
            }
            if *want == "fail"
                && let Some(needle) = &p.evidence
                && !evidence_has(r, needle)
            {
                failures.push(format!("{}: failing evidence lacks `{needle}`: {}", p.rule, r["evidence"]));
            }
        }
    }
    eprintln!(
        "proofs: {} rules on real hosts, {} on recorded facts, of {} rules; {} other-platform variants",
        proven.0,
        proven.1,
        categories.len(),
        proven.2
    );
    assert!(failures.is_empty(), "{} proof failure(s):\n{}", failures.len(), failures.join("\n"));
}
