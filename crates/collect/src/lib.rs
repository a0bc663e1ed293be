//! Fact collection around the pure engine: the engine's plan becomes one shell script,
//! a [`Transport`] runs it on a host, and the framed output becomes a fact set.

pub mod actions;
pub mod capture;
pub mod chain;
pub mod collector;
pub mod deadman;
pub mod local;
pub mod parse;
pub mod quote;
pub mod recover;
pub mod scan;
pub mod script;
pub mod transport;
pub mod txn;

pub use collector::{CollectError, Collected, Pending, collect, finish, now_rfc3339, prepare};
pub use local::LocalTransport;
pub use scan::{Scan, Scanned, scan};
pub use transport::{ScriptOutput, Transport, TransportError};
