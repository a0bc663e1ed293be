//! The SSH transport: one connection per host, one channel per collection script.

pub mod endpoint;
pub mod hostkey;
pub mod session;

pub use endpoint::{Endpoint, EndpointError};
pub use hostkey::{HostKeyPolicy, HostKeyStatus, HostKeyTrust};
pub use session::{Credentials, FailureKind, SshError, SshSession, SshTarget, Sudo, Timeouts};
