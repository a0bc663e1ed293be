//! The built-in rule library in `rules/` loads without errors.

mod common;

#[test]
fn builtin_library_has_no_errors() {
    let (lib, files) = common::builtin_library();
    let errors: Vec<String> = lib.errors().map(ToString::to_string).collect();
    assert!(errors.is_empty(), "{}", errors.join("\n\n"));
    assert_eq!(lib.rules.len(), files);
}
