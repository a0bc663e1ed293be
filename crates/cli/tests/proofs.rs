//! Rule proofs: every rule with a proof in `proofs/` is shown to pass on one real test host
//! and to fail on another (or, where its facts cannot exist on a test host, to pass and fail
//! on that host's recorded facts with the named facts replaced). See docs/proofs.md.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::apt_proxy::{AptProxy, apt_via_proxy};
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

/// Rules whose fix is not proven on a test host, each group with why (`proofs/fixes/exceptions.yml`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixExceptions {
    exceptions: Vec<FixException>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixException {
    why: String,
    rules: Vec<String>,
}

/// The library's rules for Debian whose remediation, in every implementation a Debian host
/// can select, has no `manual` step: every one of them is meant to be fixed by `openwatch fix`
/// alone. (A rule whose Red Hat implementation is manual still counts when Debian's is not.)
fn fixable_rules() -> Vec<openwatch_core::rule::Rule> {
    fn walk(dir: &Path, out: &mut Vec<(String, String)>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "yml") {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                out.push((name, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    let mut sources = Vec::new();
    walk(&repo().join("rules"), &mut sources);
    sources.sort();
    let lib = openwatch_core::library::Library::load(sources.iter().map(|(n, t)| (n.as_str(), t.as_str())));
    lib.rules
        .into_iter()
        .filter(|r| r.raw.platforms.iter().any(|p| json!(p.family) == json!("debian")))
        .filter(|r| {
            let rems: Vec<_> = r
                .raw
                .implementations
                .iter()
                .map(|i| &i.value)
                .filter(|i| i.when.as_ref().is_none_or(|g| debian_may_select(g) != Some(false)))
                .map(|i| i.remediation.as_ref())
                .collect();
            !rems.is_empty()
                && rems.iter().all(|m| {
                    m.is_some_and(|m| {
                        m.steps.iter().all(|s| !matches!(s, openwatch_core::rule::Mechanism::Manual { .. }))
                    })
                })
        })
        .collect()
}

/// Can a Debian host (dpkg, never rpm; anything else may or may not be there) pass `gate`?
/// Three-valued: `None` when it depends on what else the host has.
fn debian_may_select(gate: &openwatch_core::rule::Gate) -> Option<bool> {
    use openwatch_core::rule::Gate;
    match gate {
        Gate::Has(c) if c == "dpkg" => Some(true),
        Gate::Has(c) if c == "rpm" => Some(false),
        Gate::Has(_) => None,
        Gate::Not(g) => debian_may_select(g).map(|v| !v),
        Gate::All(gs) => {
            let vs: Vec<_> = gs.iter().map(debian_may_select).collect();
            if vs.contains(&Some(false)) {
                Some(false)
            } else if vs.iter().all(|v| *v == Some(true)) {
                Some(true)
            } else {
                None
            }
        }
        Gate::Any(gs) => {
            let vs: Vec<_> = gs.iter().map(debian_may_select).collect();
            if vs.contains(&Some(true)) {
                Some(true)
            } else if vs.iter().all(|v| *v == Some(false)) {
                Some(false)
            } else {
                None
            }
        }
    }
}

/// What a fix and its rollback could leave behind on a host: its own file layer (bytes,
/// mode, owner; the fix journal, which is the record of the change, and the state systemd,
/// caches and the package manager's bookkeeping keep for themselves left out: a package's
/// own files are compared), its mounts, its network kernel values and its running services.
fn host_state(n: u32, root: &Path) -> BTreeMap<String, String> {
    // A file of the shared base that a fix touched is copied into the host's layer for good,
    // even once it is back as it was: such a copy equal to the base's is no difference.
    let base = root.join("../../../rootfs");
    let same_as_base = |path: &str, (bytes, mode, uid, gid): &(Vec<u8>, u32, u32, u32)| {
        let p = base.join(path);
        std::fs::symlink_metadata(&p).is_ok_and(|m| {
            m.is_file()
                && (m.permissions().mode(), m.uid(), m.gid()) == (*mode, *uid, *gid)
                && std::fs::read(&p).is_ok_and(|b| &b == bytes)
        })
    };
    let mut out: BTreeMap<String, String> = host_layer(root)
        .into_iter()
        .filter(|(path, state)| {
            ![
                "var/lib/openwatch",
                "var/lib/systemd/",
                "var/cache/",
                "var/lib/dpkg/",
                "var/lib/apt/",
                "var/lib/ucf/",
            ]
            .iter()
            .any(|x| path.starts_with(x))
                && !same_as_base(path, state)
                // A service's restart rewrites its pid and lock files.
                && !path.ends_with(".pid")
                && !path.ends_with(".lock")
        })
        .map(|(path, (bytes, mode, uid, gid))| {
            (path, format!("{} bytes {mode:o} {uid}:{gid} {:x}", bytes.len(), fnv(&bytes)))
        })
        .collect();
    let inside = |cmd: &str| text(&host_sh(&["run", &n.to_string(), "/bin/sh", "-c", cmd]).stdout);
    out.insert("mounts".into(), inside("awk '{print $2, $4}' /proc/self/mounts | sort"));
    // A separate file system's own root (its mode and owner are outside the host's layer).
    out.insert(
        "mount points".into(),
        inside("awk '$2 !~ \"^/(proc|sys|dev|run)(/|$)\" {print $2}' /proc/self/mounts | sort -u | xargs stat -c '%n %a %U:%G'"),
    );
    out.insert(
        "sysctl".into(),
        inside(
            "sysctl -a 2>/dev/null | grep -E '^(net\\.|kernel\\.(dmesg_restrict|kptr_restrict|randomize_va_space)|fs\\.suid_dumpable)' \
             | grep -v -e stable_secret -e _random | sort",
        ),
    );
    out.insert(
        "services".into(),
        inside("systemctl list-units --type=service --state=active --no-legend --plain | awk '{print $1}' | sort"),
    );
    out
}

/// A content fingerprint for comparing layers (FNV-1a; not for security).
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// A machine-wide kernel value made writable for the host (its /proc/sys is read-only) and
/// set to a failing value; the undo puts the machine's own value back. Only the proof of
/// that one rule, a few seconds, sees the value changed.
macro_rules! kernel_value {
    ($rule:literal, $path:literal, $fail:literal) => {
        (
            $rule,
            concat!(
                "cat ",
                $path,
                " > /run/ow-kernel-value && mount --bind ",
                $path,
                " ",
                $path,
                " && mount -o remount,bind,rw ",
                $path,
                " && echo ",
                $fail,
                " > ",
                $path
            ),
            concat!(
                "cat /run/ow-kernel-value > ",
                $path,
                " && umount ",
                $path,
                " && rm /run/ow-kernel-value"
            ),
        )
    };
}

/// Rules the shared fail state cannot make fail (it would break other rules' proofs): a
/// command run inside the host before the rule's fix, and one after its rollback and
/// comparison that undoes it. Packages come from the Debian mirror through [`AptProxy`].
const PWHISTORY_LINE_IN: &str =
    "sed -i '1i password\\trequired\\tpam_pwhistory.so remember=24' /etc/pam.d/common-password";
const SETUPS: &[(&str, &str, &str)] = &[
    // Its fix installs AIDE (with a mail server), whose removal leaves system accounts: the
    // packages and the accounts they created go again afterwards, so the later AIDE proof
    // starts from the same host as it would alone.
    (
        "aide_periodic_checking_systemd_timer",
        "cut -d: -f1 /etc/passwd > /root/.ow-users; cut -d: -f1 /etc/group > /root/.ow-groups",
        "apt-get purge -y -q --autoremove aide aide-common; \
         for u in $(cut -d: -f1 /etc/passwd | grep -vxFf /root/.ow-users); do userdel \"$u\"; done; \
         for g in $(cut -d: -f1 /etc/group | grep -vxFf /root/.ow-groups); do groupdel \"$g\"; done; \
         rm -f /root/.ow-users /root/.ow-groups",
    ),
    // These add an argument to an existing pam_pwhistory line (another rule adds the line):
    // the proofs' fail side has none, so the line is put in, without the argument, and out.
    (
        "accounts_password_pam_pwhistory_enforce_root",
        PWHISTORY_LINE_IN,
        "sed -i '/pam_pwhistory\\.so/d' /etc/pam.d/common-password",
    ),
    (
        "accounts_password_pam_pwhistory_use_authtok",
        PWHISTORY_LINE_IN,
        "sed -i '/pam_pwhistory\\.so/d' /etc/pam.d/common-password",
    ),
    // auditd, started at boot (it fails there), gives its log directory 0750 itself.
    ("directory_permissions_var_log_audit", "chmod 0755 /var/log/audit", "chmod 0750 /var/log/audit"),
    kernel_value!("sysctl_fs_suid_dumpable", "/proc/sys/fs/suid_dumpable", "2"),
    kernel_value!("sysctl_kernel_dmesg_restrict", "/proc/sys/kernel/dmesg_restrict", "0"),
    kernel_value!("sysctl_kernel_kptr_restrict", "/proc/sys/kernel/kptr_restrict", "0"),
    kernel_value!("sysctl_kernel_randomize_va_space", "/proc/sys/kernel/randomize_va_space", "1"),
    // Journal forwarding applies where rsyslog is absent: removed (its configuration kept)
    // and put back, stopped and disabled as the proofs keep it.
    (
        "package_systemd_journal_remote_installed",
        "apt-get remove -y -q rsyslog",
        "apt-get install -y -q -o Dpkg::Options::=--force-confold rsyslog && systemctl disable --now rsyslog",
    ),
    ("package_nftables_installed", "apt-get purge -y -q nftables", "apt-get install -y -q nftables"),
    (
        "package_sudo_installed",
        "SUDO_FORCE_REMOVE=yes apt-get purge -y -q sudo",
        "apt-get install -y -q sudo",
    ),
    ("package_ftp_removed", "apt-get install -y -q tnftp", "apt-get purge -y -q tnftp"),
    ("package_nis_removed", "apt-get install -y -q nis", "apt-get purge -y -q nis"),
    (
        "package_openldap_clients_removed",
        "apt-get install -y -q ldap-utils",
        "apt-get purge -y -q ldap-utils",
    ),
    ("package_rsh_removed", "apt-get install -y -q rsh-client", "apt-get purge -y -q rsh-client"),
    ("package_talk_removed", "apt-get install -y -q talk", "apt-get purge -y -q talk"),
    (
        "package_telnet_removed",
        "apt-get install -y -q inetutils-telnet",
        "apt-get purge -y -q inetutils-telnet",
    ),
    ("postfix_network_listening_disabled", "apt-get install -y -q postfix", "apt-get purge -y -q postfix"),
    (
        "socket_systemd_journal_remote_disabled",
        "apt-get install -y -q systemd-journal-remote && systemctl enable --now systemd-journal-remote.socket",
        "apt-get purge -y -q systemd-journal-remote",
    ),
];

#[test]
fn every_fixable_rule_is_fixed_verified_and_rolled_back_on_a_real_host() {
    let fixable = fixable_rules();
    assert!(fixable.len() > 100, "{} fixable rules", fixable.len());
    let ids: BTreeSet<&str> = fixable.iter().map(|r| r.id()).collect();
    let exceptions: FixExceptions =
        serde_saphyr::from_str(&std::fs::read_to_string(repo().join("proofs/fixes/exceptions.yml")).unwrap())
            .unwrap();
    let mut listed: BTreeMap<&str, &str> = BTreeMap::new();
    for e in &exceptions.exceptions {
        for r in &e.rules {
            assert!(
                ids.contains(r.as_str()),
                "proofs/fixes/exceptions.yml: `{r}` is not a fixable Debian rule"
            );
            assert!(listed.insert(r, &e.why).is_none(), "proofs/fixes/exceptions.yml lists `{r}` twice");
        }
    }
    if !fleet_available() {
        return;
    }
    let n: u32 = std::env::var("OPENWATCH_FIX_PROOF_HOST").ok().and_then(|v| v.parse().ok()).unwrap_or(181);
    let files = load_proofs();
    let proofs: Vec<&Proof> = files.iter().flat_map(|f| &f.proofs).collect();
    let (mut fleet, key) = Fleet::with_key();
    let proxy = AptProxy::start();
    // The host every proof's rule fails on (the proofs' fail side), running systemd.
    let root = fleet.up_root_systemd(n, |root| {
        apt_via_proxy(root, proxy.port());
        write(
            root,
            "/etc/ssh/sshd_config.d/99-proof-scanner.conf",
            "Match Address 10.201.0.1\n    PermitRootLogin prohibit-password\n",
        );
        for p in &proofs {
            if let Some(d) = &p.fail {
                apply(root, d);
            }
        }
        // Partitioned as CIS asks, but without the mount options the rules want.
        write(
            root,
            "/etc/fstab",
            "tmpfs /tmp tmpfs defaults 0 0\ntmpfs /dev/shm tmpfs defaults 0 0\n/home /home none bind 0 0\n\
             /var /var none bind 0 0\n/var/log /var/log none bind 0 0\n/var/tmp /var/tmp none bind 0 0\n\
             tmpfs /var/log/audit tmpfs mode=0755 0 0\n",
        );
    });
    for p in &proofs {
        for (k, v) in p.fail.iter().flat_map(|d| &d.sysctl) {
            host_sh(&["exec", &n.to_string(), "sysctl", "-qw", &format!("{k}={v}")]);
        }
    }
    // The mounts as the fstab says (systemd mounted what it could at boot), /tmp and /dev/shm
    // allowing devices, set-user-id and execution, the services the rules want enabled
    // disabled, and the package lists of the host's main source (a proof adds a source that
    // does not exist) fetched through the proxy.
    host_sh(&[
        "run",
        &n.to_string(),
        "/bin/sh",
        "-ec",
        "for d in /home /var /var/log /var/tmp; do mountpoint -q $d || mount --bind $d $d; done; \
         mkdir -p /var/log/audit; mountpoint -q /var/log/audit || mount -t tmpfs -o size=8m,mode=0755 tmpfs /var/log/audit; \
         for d in /tmp /dev/shm; do mount -o remount,dev,suid,exec $d; done; \
         systemctl disable --now cron rsyslog; apt-get update -q --error-on=any -o Dir::Etc::sourceparts=-",
    ]);
    let inside = |cmd: &str| {
        let out = Command::new(testfleet("host.sh"))
            .args([
                "run",
                &n.to_string(),
                "/usr/bin/env",
                "DEBIAN_FRONTEND=noninteractive",
                "/bin/sh",
                "-ec",
                cmd,
            ])
            .output()
            .unwrap();
        (out.status.success(), format!("{}{}", text(&out.stdout), text(&out.stderr)))
    };
    let host_key = std::fs::read_to_string(root.join("etc/ssh/ssh_host_ed25519_key.pub")).unwrap();
    let target = openwatch_fleet::ManagedHost {
        name: format!("h{n}"),
        address: addr(n),
        port: 22,
        user: "root".into(),
        credential_user: None,
        credential_name: None,
        secret: openwatch_fleet::Secret::Key {
            private_key: std::fs::read_to_string(&key).unwrap(),
            passphrase: None,
        },
        sudo: false,
        sudo_password: None,
        approved_keys: vec![russh::keys::PublicKey::from_openssh(host_key.trim()).unwrap()],
        accept_new: false,
        connect_timeout: None,
    }
    .target();
    let job = openwatch_fleet::FleetJob {
        host: openwatch_fleet::ResolvedHost { target, vars: Vec::new() },
        overrides: Default::default(),
    };
    let opts = openwatch_fleet::fix::FixOptions {
        dry_run: false,
        journal: "/var/lib/openwatch/journal".into(),
        walks: false,
        deadman_secs: 30,
        approved: None,
        progress: None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let fixed_host = openwatch_fleet::fix::FixTarget::Ssh(&job);

    // Rule by rule: fix (applied, scanned again, kept only if it passes), a fresh scan
    // agrees, roll back, and the host is exactly as before.
    let mut problems = Vec::new();
    let mut proven: BTreeSet<&str> = BTreeSet::new();
    let mut why_not: BTreeMap<&str, String> = BTreeMap::new();
    // OPENWATCH_FIX_PROOF_RULES=a,b proves only those (while working on them), without the
    // accounting below.
    let only: Option<Vec<String>> = std::env::var("OPENWATCH_FIX_PROOF_RULES")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect());
    for rule in &fixable {
        let id = rule.id();
        if only.as_ref().is_some_and(|o| !o.iter().any(|x| x == id)) {
            continue;
        }
        let setup = SETUPS.iter().find(|(r, _, _)| *r == id);
        if let Some((_, cmd, _)) = setup {
            let (ok, out) = inside(cmd);
            assert!(ok, "{id}: setting up `{cmd}` failed: {out}");
        }
        'proof: {
            let before = host_state(n, &root);
            let done = runtime.block_on(openwatch_fleet::fix::fix_host(
                fixed_host,
                std::slice::from_ref(rule),
                &opts,
            ));
            if let Some(e) = &done.error {
                problems.push(format!("{id}: the host failed: {}", e.message));
                break 'proof;
            }
            let Some(r) = done.rules.first() else {
                why_not.insert(id, "did not fail on the host".into());
                break 'proof;
            };
            // A running kernel value's fix reports the value it found (the caller's record).
            if id.starts_with("sysctl_") && !r.action_pre_state.iter().any(|a| a.captured.contains_key("pre"))
            {
                problems.push(format!("{id}: no pre-state of its running value: {:?}", r.action_pre_state));
            }
            let tx = match &r.outcome {
                openwatch_fleet::fix::Outcome::Fixed { transaction_id } => transaction_id.clone(),
                other => {
                    why_not.insert(id, format!("{other:?}"));
                    break 'proof;
                }
            };
            let plan = openwatch_core::plan::FactPlan::for_rules([rule], false);
            let fleet_opts = openwatch_fleet::FleetOptions {
                concurrency: 1,
                mode: openwatch_fleet::ExecMode::Batched,
                walks: false,
                keep_facts: false,
            };
            let rescan = runtime.block_on(openwatch_fleet::scan_host(
                &job,
                std::slice::from_ref(rule),
                &plan,
                &fleet_opts,
            ));
            let verdict = rescan.report.results.first().map(|x| x.verdict.as_str());
            // What keeps the rule from being proven; a listed rule's are expected.
            let mut issues = Vec::new();
            if verdict != Some("pass") {
                issues.push(format!("{id}: fixed, but a fresh scan says {verdict:?}"));
            }
            if let Err(e) =
                runtime.block_on(openwatch_fleet::fix::rollback_host(fixed_host, &opts.journal, &tx))
            {
                issues.push(format!("{id}: rollback of {tx} failed: {e}"));
            }
            let after = host_state(n, &root);
            for (k, v) in &before {
                if after.get(k) != Some(v) {
                    issues.push(format!("{id}: not restored: {k}: {v:?} -> {:?}", after.get(k)));
                }
            }
            for k in after.keys().filter(|k| !before.contains_key(*k)) {
                issues.push(format!("{id}: left behind: {k}"));
            }
            if issues.is_empty() {
                proven.insert(id);
            } else if listed.contains_key(id) {
                why_not.insert(id, issues.join("; "));
            } else {
                problems.extend(issues);
            }
        }
        if let Some((_, _, undo)) = setup {
            let (ok, out) = inside(undo);
            assert!(ok, "{id}: undoing the setup `{undo}` failed: {out}");
        }
    }

    for (id, why) in why_not.iter().filter(|(id, _)| listed.contains_key(*id)) {
        eprintln!("listed, not proven: {id}: {why}");
    }
    if only.is_some() {
        eprintln!("proven: {proven:?}");
        for (id, why) in why_not.iter().filter(|(id, _)| !listed.contains_key(*id)) {
            eprintln!("not proven: {id}: {why}");
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        return;
    }
    // Every fixable rule is proven here or listed with why; nothing listed is proven.
    for id in &ids {
        match (proven.contains(id), listed.get(id)) {
            (false, None) => problems.push(format!(
                "{id} is not proven ({}) and not in proofs/fixes/exceptions.yml",
                why_not.get(id).map_or("see above", String::as_str)
            )),
            (true, Some(_)) => {
                problems.push(format!("{id} is proven: take it out of proofs/fixes/exceptions.yml"))
            }
            _ => {}
        }
    }
    let share = proven.len() as f64 / ids.len() as f64;
    eprintln!(
        "fix proofs: {} of {} fixable rules fixed, verified and rolled back byte for byte ({:.1}%)",
        proven.len(),
        ids.len(),
        share * 100.0
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The issue's bar: at least 90% of the fixable rules proven on a real host.
    assert!(share >= 0.9, "only {:.1}% of the fixable rules are proven (90% wanted)", share * 100.0);
}
