//! The columns that hold one of a fixed set of values, as types. Each is stored as the text
//! it serializes to, so the database and the API's JSON keep the strings they always had;
//! text the store does not know is a [`crate::StoreError::Corrupt`], never a panic.
//! Severities and verdicts are the core's own types (`openwatch_core::rule::Severity`,
//! `openwatch_core::eval::Status`).

use serde::{Deserialize, Serialize};

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(s: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum! {
    /// How the server reaches a host.
    Transport { Ssh = "ssh", Local = "local" }
}

text_enum! {
    /// What happens to a host key seen for the first time: wait for approval, or trust it.
    HostKeyPolicy { Approve = "approve", AcceptNew = "accept_new" }
}

text_enum! {
    /// Whether the last contact with a host worked, and if not, why (`error`: the SSH layer's
    /// catch-all).
    Reachability {
        Unknown = "unknown",
        Reachable = "reachable",
        Unreachable = "unreachable",
        HostKeyPending = "host_key_pending",
        HostKeyChanged = "host_key_changed",
        AuthFailed = "auth_failed",
        Error = "error",
    }
}

text_enum! {
    /// Whether a stored host key is trusted.
    HostKeyStatus { Pending = "pending", Approved = "approved", Rejected = "rejected" }
}

text_enum! {
    /// Where a scan is in its life.
    ScanStatus { Queued = "queued", Running = "running", Succeeded = "succeeded", Failed = "failed" }
}

impl ScanStatus {
    /// Queued or running: not finished yet.
    pub fn is_pending(self) -> bool {
        matches!(self, ScanStatus::Queued | ScanStatus::Running)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_serializes_as_itself() {
        for r in Reachability::ALL {
            assert_eq!(Reachability::parse(r.as_str()), Some(*r));
            assert_eq!(serde_json::to_value(r).unwrap(), serde_json::json!(r.as_str()));
        }
        assert_eq!(serde_json::to_value(HostKeyPolicy::AcceptNew).unwrap(), serde_json::json!("accept_new"));
        assert_eq!(
            serde_json::from_value::<Transport>(serde_json::json!("local")).unwrap(),
            Transport::Local
        );
        assert_eq!(ScanStatus::parse("done"), None);
    }
}

text_enum! {
    /// Where a remediation request is: its hosts being previewed (dry run), waiting for
    /// someone other than the requester to decide, being applied, finished, or rejected.
    RemediationStatus {
        Previewing = "previewing",
        AwaitingApproval = "awaiting_approval",
        Applying = "applying",
        Done = "done",
        Rejected = "rejected",
    }
}

text_enum! {
    /// What an alert rule watches for.
    AlertKind {
        NewFailure = "new_failure",
        ComplianceBelow = "compliance_below",
        HostUnreachable = "host_unreachable",
        HostKeyChanged = "host_key_changed",
        ExceptionExpiring = "exception_expiring",
        RemediationAwaitingApproval = "remediation_awaiting_approval",
    }
}

text_enum! {
    /// Where an alert is: open, acknowledged by someone (still open, but seen), or resolved
    /// (by someone, or by itself when the condition ended).
    AlertStatus { Open = "open", Acknowledged = "acknowledged", Resolved = "resolved" }
}

text_enum! {
    /// Where an exception is: waiting for someone other than the requester, approved
    /// (it applies until its expiry day), rejected, or revoked after approval.
    ExceptionStatus {
        Requested = "requested",
        Approved = "approved",
        Rejected = "rejected",
        Revoked = "revoked",
    }
}

text_enum! {
    /// The scanner whose results were imported.
    ForeignSource { Xccdf = "xccdf", Inspec = "inspec", Nessus = "nessus", Wazuh = "wazuh" }
}

text_enum! {
    /// What a report covers.
    ReportScope { Fleet = "fleet", Group = "group", Host = "host" }
}

text_enum! {
    /// The file a report is drawn as.
    ReportFormat {
        Pdf = "pdf",
        Html = "html",
        OscalAr = "oscal-ar",
        OscalPoam = "oscal-poam",
        Xccdf = "xccdf",
        Sarif = "sarif",
    }
}

text_enum! {
    /// Whether a people's report (PDF, HTML) has every host's findings or the summary only.
    ReportDetail { Executive = "executive", Full = "full" }
}

text_enum! {
    /// Where a report is: waiting for a worker, being drawn, ready to download, or failed.
    ReportStatus { Queued = "queued", Running = "running", Succeeded = "succeeded", Failed = "failed" }
}

text_enum! {
    /// Where one host of a remediation request is.
    FixPhase {
        Previewing = "previewing",
        Previewed = "previewed",
        Applying = "applying",
        Applied = "applied",
        Failed = "failed",
    }
}

text_enum! {
    /// How a fix transaction ended on its host.
    TxnOutcome { Fixed = "fixed", RolledBack = "rolled_back", Failed = "failed" }
}

text_enum! {
    /// A rollback someone asked for: waiting for a worker, done, or failed (with why).
    RollbackStatus { Queued = "queued", Done = "done", Failed = "failed" }
}

text_enum! {
    /// Where a notification is sent: a signed JSON webhook, a Slack-compatible incoming
    /// webhook, or email over SMTP.
    ChannelKind { Webhook = "webhook", Slack = "slack", Email = "email" }
}

text_enum! {
    /// Where one message to one channel is: waiting for (another) attempt, delivered, or
    /// dead (every attempt failed; kept as a dead letter).
    DeliveryStatus { Queued = "queued", Delivered = "delivered", Dead = "dead" }
}

text_enum! {
    /// How one delivery attempt ended.
    AttemptOutcome { Delivered = "delivered", Failed = "failed" }
}

text_enum! {
    /// Where a session stands: signed in, waiting for a second factor, or allowed only to
    /// enrol one (the policy requires it and the account has none).
    SessionStage { Full = "full", SecondFactor = "second_factor", Enrol = "enrol" }
}

text_enum! {
    /// How a session was first authenticated.
    SignInMethod { Password = "password", SecurityKey = "security_key", Sso = "sso" }
}

text_enum! {
    /// What a ceremony in flight is for.
    ChallengeKind {
        SecurityKeyRegistration = "security_key_registration",
        SecurityKeyAuthentication = "security_key_authentication",
        Sso = "sso",
    }
}
