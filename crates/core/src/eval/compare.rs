//! Comparing an observed text value with an expected typed value.

use crate::rule::{Comparator, Value};

/// Describe an expectation for evidence, e.g. `<= 4` or `subset_of [aes256-ctr]`.
pub fn describe(cmp: Comparator, expected: &Value) -> String {
    format!("{} {}", cmp.as_str(), expected)
}

fn as_int(s: &str) -> Option<i64> {
    s.trim().parse::<i64>().ok()
}

fn eq(a: &str, b: &str, case_insensitive: bool) -> bool {
    match (as_int(a), as_int(b)) {
        (Some(x), Some(y)) => x == y,
        _ if case_insensitive => a.trim().eq_ignore_ascii_case(b.trim()),
        _ => a.trim() == b.trim(),
    }
}

/// Compare `observed` with `expected`. Errors when a numeric comparison meets a non-number
/// or a pattern does not compile.
pub fn compare(
    observed: &str,
    cmp: Comparator,
    expected: &Value,
    case_insensitive: bool,
) -> Result<bool, String> {
    let items = expected.items();
    let observed_items = || observed.split(',').map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>();
    let in_expected = |item: &str| items.iter().any(|e| eq(item, e, case_insensitive));
    Ok(match cmp {
        Comparator::Eq => eq(observed, &expected.to_text(), case_insensitive),
        Comparator::Ne => !eq(observed, &expected.to_text(), case_insensitive),
        Comparator::Lt | Comparator::Le | Comparator::Gt | Comparator::Ge => {
            let want = as_int(&expected.to_text())
                .ok_or_else(|| format!("expected value `{expected}` is not an integer"))?;
            let got =
                as_int(observed).ok_or_else(|| format!("observed value `{observed}` is not an integer"))?;
            match cmp {
                Comparator::Lt => got < want,
                Comparator::Le => got <= want,
                Comparator::Gt => got > want,
                _ => got >= want,
            }
        }
        Comparator::Matches => {
            let re = regex::Regex::new(&expected.to_text()).map_err(|e| format!("invalid pattern: {e}"))?;
            re.is_match(observed)
        }
        Comparator::SubsetOf => {
            let obs = observed_items();
            !obs.is_empty() && obs.iter().all(|i| in_expected(i))
        }
        Comparator::NoneOf => !observed_items().iter().any(|i| in_expected(i)),
        Comparator::OneOf => in_expected(observed.trim()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(v.into())
    }
    fn list(v: &[&str]) -> Value {
        Value::List(v.iter().map(|x| s(x)).collect())
    }

    #[test]
    fn numbers_compare_numerically() {
        assert_eq!(compare("4", Comparator::Le, &Value::Int(4), false), Ok(true));
        assert_eq!(compare("10", Comparator::Le, &Value::Int(4), false), Ok(false));
        assert_eq!(compare("010", Comparator::Eq, &s("10"), false), Ok(true));
        assert!(compare("abc", Comparator::Gt, &Value::Int(1), false).is_err());
        assert_eq!(compare("5", Comparator::Ne, &Value::Int(4), false), Ok(true));
        assert_eq!(compare("5", Comparator::Gt, &Value::Int(4), false), Ok(true));
        assert_eq!(compare("4", Comparator::Lt, &Value::Int(4), false), Ok(false));
        assert_eq!(compare("4", Comparator::Ge, &Value::Int(4), false), Ok(true));
    }

    #[test]
    fn strings_compare_exactly_unless_case_insensitive() {
        assert_eq!(compare("No", Comparator::Eq, &s("no"), false), Ok(false));
        assert_eq!(compare("No", Comparator::Eq, &s("no"), true), Ok(true));
        assert_eq!(compare("no", Comparator::Eq, &Value::Bool(false), false), Ok(true));
    }

    #[test]
    fn list_comparators() {
        let allowed = list(&["aes256-ctr", "aes128-ctr"]);
        assert_eq!(compare("aes256-ctr,aes128-ctr", Comparator::SubsetOf, &allowed, false), Ok(true));
        assert_eq!(compare("aes256-ctr,3des-cbc", Comparator::SubsetOf, &allowed, false), Ok(false));
        assert_eq!(compare("", Comparator::SubsetOf, &allowed, false), Ok(false));
        let weak = list(&["3des-cbc"]);
        assert_eq!(compare("aes256-ctr,3des-cbc", Comparator::NoneOf, &weak, false), Ok(false));
        assert_eq!(compare("aes256-ctr", Comparator::NoneOf, &weak, false), Ok(true));
        assert_eq!(compare("verbose", Comparator::OneOf, &list(&["INFO", "VERBOSE"]), true), Ok(true));
    }

    #[test]
    fn matches_uses_regex() {
        assert_eq!(compare("/etc/issue.net", Comparator::Matches, &s("^/etc/issue"), false), Ok(true));
        assert!(compare("x", Comparator::Matches, &s("("), false).is_err());
    }
}
