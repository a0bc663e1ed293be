//! The collection plan: the deduplicated facts a set of rules needs, gathered in one pass.

use std::collections::BTreeSet;

use crate::eval;
use crate::facts::FactKey;
use crate::rule::Rule;

pub const OS_RELEASE: &str = "/etc/os-release";

/// Every fact to collect, in a stable order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FactPlan {
    pub keys: BTreeSet<FactKey>,
}

impl FactPlan {
    /// Plan the facts for `rules`. All implementations are planned, since which one applies
    /// is only known once the capability probes (collected in the same pass) come back.
    /// Filesystem walks are left out when `walks` is false.
    pub fn for_rules<'a>(rules: impl IntoIterator<Item = &'a Rule>, walks: bool) -> FactPlan {
        let mut wanted =
            vec![FactKey::Probes, FactKey::Files { pattern: OS_RELEASE.to_owned(), content: true }];
        for rule in rules {
            for imp in &rule.raw.implementations {
                eval::needs(&imp.value.check, &mut wanted);
            }
        }
        let mut keys: BTreeSet<FactKey> =
            wanted.into_iter().filter(|k| walks || *k != FactKey::FilesystemWalk).collect();
        // A path read for content is also stat'ed: drop the stat-only duplicate.
        let with_content: Vec<String> = keys
            .iter()
            .filter_map(|k| match k {
                FactKey::Files { pattern, content: true } => Some(pattern.clone()),
                _ => None,
            })
            .collect();
        for pattern in with_content {
            keys.remove(&FactKey::Files { pattern, content: false });
        }
        FactPlan { keys }
    }
}
