//! OpenWatch's rule engine, free of I/O: rules are parsed and validated from text, compiled
//! into one deduplicated plan of facts, and evaluated against the facts a transport
//! collected. Nothing here touches the network, the file system, a clock or a database; the
//! `purity` test enforces that.

pub mod capability;
pub mod catalog;
pub mod eval;
pub mod exceptions;
pub mod export;
pub mod facts;
pub mod fix;
pub mod guidance;
pub mod import;
pub mod library;
pub mod plan;
pub mod posture;
pub mod report;
pub mod rule;
pub mod select;
pub mod tailoring;
pub mod vars;

#[cfg(test)]
#[path = "eval/testkit.rs"]
mod testkit;
