//! Scan results in the interchange formats other tools read: XCCDF 1.2 results (OpenSCAP's
//! consumers) and SARIF 2.1.0 (CI systems). Pure: documents are built in memory from
//! [`ScanReport`](crate::report::ScanReport)s; the caller writes them.

pub mod sarif;
pub mod xccdf;
