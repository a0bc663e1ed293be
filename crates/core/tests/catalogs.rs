//! The shipped framework catalogs parse, and every rule reference to a catalogued framework
//! names a control that exists.
#![allow(clippy::disallowed_methods)] // a test may read files; the library itself may not

use std::path::Path;

use openwatch_core::catalog::{Catalog, check_references};
use openwatch_core::library::Library;

fn read_dir(dir: &Path, ext: &str, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            read_dir(&p, ext, out);
        } else if p.extension().is_some_and(|e| e == ext) {
            out.push((p.display().to_string(), std::fs::read_to_string(&p).unwrap()));
        }
    }
}

#[test]
fn catalogs_parse_and_rule_references_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut catalog_files = Vec::new();
    read_dir(&root.join("catalogs"), "yml", &mut catalog_files);
    let catalogs: Vec<Catalog> =
        catalog_files.iter().map(|(n, t)| Catalog::parse(n, t).unwrap_or_else(|f| panic!("{f}"))).collect();
    let mut rule_files = Vec::new();
    read_dir(&root.join("rules"), "yml", &mut rule_files);
    let lib = Library::load(rule_files.iter().map(|(n, t)| (n.as_str(), t.as_str())));
    let findings: Vec<String> =
        check_references(&catalogs, &lib.rules).iter().map(ToString::to_string).collect();
    assert!(
        findings.is_empty(),
        "{} reference(s) to unknown controls:\n{}",
        findings.len(),
        findings.join("\n\n")
    );
}

#[test]
fn a_reference_to_a_missing_control_is_reported_with_its_place() {
    let catalog = Catalog::parse(
        "c.yml",
        "framework: nist_800_53\ntitle: T\nsource: S\ncontrols:\n  - {id: AC-6, title: Least Privilege}\n",
    )
    .unwrap();
    let rule = "id: r\ntitle: t\ndescription: d\nrationale: r\nseverity: low\ncategory: c\nreferences:\n  nist_800_53: [AC-6, ZZ-99]\n\
                platforms: [{family: debian}]\nimplementations:\n  - default: true\n    check: {file_exists: {path: /x}}\n";
    let lib = Library::load([("r.yml", rule)]);
    let f = check_references(&[catalog], &lib.rules);
    assert_eq!(f.len(), 1);
    assert!(
        f[0].to_string().starts_with("r.yml:8:1: error: `ZZ-99` is not a control of nist_800_53"),
        "{}",
        f[0]
    );
    assert!(Catalog::parse("d.yml", "framework: nist_800_53\ntitle: T\nsource: S\ncontrols:\n  - {id: A, title: x}\n  - {id: A, title: y}\n").is_err());
    assert!(Catalog::parse("e.yml", "framework: nope\ntitle: T\nsource: S\ncontrols: []\n").is_err());
}
