//! `openwatch fix --local` on this machine, confined to a temporary directory by a rule of
//! the test's own: the dry run changes nothing, the fix is verified and kept, and the
//! rollback restores the file byte for byte with its mode.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use serde_json::Value;

#[test]
fn fix_local_previews_applies_verifies_and_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("app.conf");
    std::fs::write(&conf, b"# managed by hand\nmanaged=no\nother=1\n").unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o640)).unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    let c = conf.display();
    std::fs::write(
        rules.join("test_app_managed.yml"),
        format!(
            "id: test_app_managed\ntitle: The app is managed\ndescription: Test rule.\nrationale: Test.\n\
             severity: low\ncategory: test\nreferences: {{nist_800_53: [CM-6]}}\n\
             platforms: [{{family: debian}}, {{family: ubuntu}}, {{family: rhel}}]\nimplementations:\n  - default: true\n    check:\n      \
             file_content: {{path: {c}, pattern: '^managed=yes$'}}\n    remediation:\n      steps:\n        \
             - config_set: {{path: {c}, key: managed, value: 'yes', delimiter: '='}}\n"
        ),
    )
    .unwrap();
    let (r, j) = (rules.display().to_string(), dir.path().join("journal").display().to_string());
    let ow = |extra: &[&str]| {
        let mut a = vec![
            "fix",
            "--local",
            "--rules",
            &r,
            "--rule",
            "test_app_managed",
            "--journal-dir",
            &j,
            "--no-walk",
        ];
        a.extend(extra);
        openwatch(&a, &[])
    };
    let before = std::fs::read(&conf).unwrap();

    let out = ow(&["--dry-run"]);
    let preview = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{preview}\n{}", text(&out.stderr));
    assert!(preview.contains("test_app_managed: would fix"), "{preview}");
    assert!(preview.contains("-managed=no") && preview.contains("+managed=yes"), "{preview}");
    assert_eq!(std::fs::read(&conf).unwrap(), before, "a dry run changes nothing");

    let out = ow(&["--yes", "--format", "json"]);
    let doc: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
    assert_eq!(out.status.code(), Some(0), "{doc:#}\n{}", text(&out.stderr));
    let r = &doc[0]["rules"][0];
    assert_eq!(r["status"], "fixed", "{doc:#}");
    assert_eq!(std::fs::read(&conf).unwrap(), b"# managed by hand\nmanaged=yes\nother=1\n");

    let out = ow(&["--rollback", r["transaction_id"].as_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(std::fs::read(&conf).unwrap(), before);
    assert_eq!(std::fs::metadata(&conf).unwrap().permissions().mode() & 0o777, 0o640);
}
