//! The SSH transport: one connection per host, one channel per collection script.

mod auth;
pub mod endpoint;
pub mod hostkey;
pub mod run;
pub mod session;
mod sudo;

pub use endpoint::{Endpoint, EndpointError};
pub use hostkey::{HostKeyPolicy, HostKeyStatus, HostKeyTrust};
pub use run::{MAX_STDERR_BYTES, MAX_STDOUT_BYTES};
pub use session::{Credentials, FailureKind, SshError, SshSession, SshTarget, Sudo, Timeouts};
