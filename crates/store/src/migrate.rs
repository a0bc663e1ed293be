//! Versioned migrations embedded in the binary, applied in order, each in its own
//! transaction, recorded with a checksum so an edited, already-applied file is detected.

use sha2::{Digest, Sha256};

/// One migration: version, name and SQL text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.sql.as_bytes()))
    }
}

pub(crate) const SQLITE: &[Migration] = &[
    Migration { version: 1, name: "init", sql: include_str!("../migrations/sqlite/0001_init.sql") },
    Migration {
        version: 2,
        name: "audit_head_mac",
        sql: include_str!("../migrations/sqlite/0002_audit_head_mac.sql"),
    },
    Migration {
        version: 3,
        name: "first_scan",
        sql: include_str!("../migrations/sqlite/0003_first_scan.sql"),
    },
    Migration {
        version: 4,
        name: "tailorings",
        sql: include_str!("../migrations/sqlite/0004_tailorings.sql"),
    },
    Migration {
        version: 5,
        name: "remediations",
        sql: include_str!("../migrations/sqlite/0005_remediations.sql"),
    },
    Migration {
        version: 6,
        name: "exceptions",
        sql: include_str!("../migrations/sqlite/0006_exceptions.sql"),
    },
    Migration {
        version: 7,
        name: "notifications",
        sql: include_str!("../migrations/sqlite/0007_notifications.sql"),
    },
    Migration { version: 8, name: "alerts", sql: include_str!("../migrations/sqlite/0008_alerts.sql") },
    Migration {
        version: 9,
        name: "trend_excepted",
        sql: include_str!("../migrations/sqlite/0009_trend_excepted.sql"),
    },
    Migration { version: 10, name: "reports", sql: include_str!("../migrations/sqlite/0010_reports.sql") },
    Migration { version: 11, name: "imports", sql: include_str!("../migrations/sqlite/0011_imports.sql") },
    Migration {
        version: 12,
        name: "sign_in_factors",
        sql: include_str!("../migrations/sqlite/0012_sign_in_factors.sql"),
    },
];

pub(crate) const POSTGRES: &[Migration] = &[
    Migration { version: 1, name: "init", sql: include_str!("../migrations/postgres/0001_init.sql") },
    Migration {
        version: 2,
        name: "audit_head_mac",
        sql: include_str!("../migrations/postgres/0002_audit_head_mac.sql"),
    },
    Migration {
        version: 3,
        name: "first_scan",
        sql: include_str!("../migrations/postgres/0003_first_scan.sql"),
    },
    Migration {
        version: 4,
        name: "tailorings",
        sql: include_str!("../migrations/postgres/0004_tailorings.sql"),
    },
    Migration {
        version: 5,
        name: "remediations",
        sql: include_str!("../migrations/postgres/0005_remediations.sql"),
    },
    Migration {
        version: 6,
        name: "exceptions",
        sql: include_str!("../migrations/postgres/0006_exceptions.sql"),
    },
    Migration {
        version: 7,
        name: "notifications",
        sql: include_str!("../migrations/postgres/0007_notifications.sql"),
    },
    Migration { version: 8, name: "alerts", sql: include_str!("../migrations/postgres/0008_alerts.sql") },
    Migration {
        version: 9,
        name: "trend_excepted",
        sql: include_str!("../migrations/postgres/0009_trend_excepted.sql"),
    },
    Migration { version: 10, name: "reports", sql: include_str!("../migrations/postgres/0010_reports.sql") },
    Migration { version: 11, name: "imports", sql: include_str!("../migrations/postgres/0011_imports.sql") },
    Migration {
        version: 12,
        name: "sign_in_factors",
        sql: include_str!("../migrations/postgres/0012_sign_in_factors.sql"),
    },
];

pub(crate) const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)";
