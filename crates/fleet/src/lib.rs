//! Fleet scanning: an inventory's hosts (or the server's host records) resolved into SSH
//! targets, scanned concurrently, each host's failure reported without stopping the others.

pub mod fix;
pub mod inventory;
pub mod managed;
pub mod runner;

pub use inventory::{HostSettings, Inventory, InventoryError, ResolvedHost};
pub use managed::{ManagedHost, Secret, UserSource, login_user};
pub use runner::{ExecMode, FleetJob, FleetOptions, HostScan, scan_fleet, scan_host};
