//! The SQLite and PostgreSQL migrations must arrive at the same tables and columns: one body
//! of SQL runs against both, so a column only one backend has fails at run time.

mod common;

use std::collections::BTreeSet;

use common::{Raw, backends};

async fn columns(raw: &Raw) -> BTreeSet<String> {
    let sql = match raw {
        Raw::Sqlite(_) => {
            "SELECT m.name || '.' || p.name FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'"
        }
        Raw::Pg(_) => {
            "SELECT table_name || '.' || column_name FROM information_schema.columns \
             WHERE table_schema = current_schema()"
        }
    };
    raw.strings(sql).await.into_iter().collect()
}

#[tokio::test]
async fn both_backends_have_the_same_tables_and_columns() {
    if std::env::var_os("OPENWATCH_SKIP_PG_TESTS").is_some() {
        return;
    }
    let b = backends().await;
    let (sqlite, pg) = (columns(&b[0].raw().await).await, columns(&b[1].raw().await).await);
    assert!(sqlite.contains("audit_head.mac") && sqlite.len() > 50, "{sqlite:?}");
    let only_sqlite: Vec<_> = sqlite.difference(&pg).collect();
    let only_pg: Vec<_> = pg.difference(&sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_pg.is_empty(),
        "only in SQLite: {only_sqlite:?}; only in PostgreSQL: {only_pg:?}"
    );
}
