//! Scan results in the interchange formats other tools read: XCCDF 1.2 results (OpenSCAP's
//! consumers), SARIF 2.1.0 (CI systems) and OSCAL Assessment Results (GRC tools). Pure: documents are built in memory from
//! [`ScanReport`](crate::report::ScanReport)s; the caller writes them.

pub mod oscal;
pub mod sarif;
pub mod xccdf;
