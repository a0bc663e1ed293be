//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "openwatch",
    version,
    about = "Agentless Linux compliance scanning",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan hosts over SSH, this machine, or recorded facts against the rule library.
    Scan(Box<ScanArgs>),
    /// Fix failing rules on hosts over SSH: preview, apply, verify, roll back (docs/fix.md).
    Fix(Box<FixArgs>),
    /// List, show, lint and map the rules.
    #[command(subcommand_required = true)]
    Rules(RulesArgs),
    /// Turn a saved scan (`scan --format json`) into another format: SARIF, XCCDF, OSCAL
    /// Assessment Results or POA&M, or an HTML report.
    Report(ReportArgs),
    /// Read another scanner's results (XCCDF 1.2/1.1 or ARF, e.g. from `oscap xccdf eval`,
    /// or OpenWatch's own `--format xccdf`) and tie them to OpenWatch's rules.
    Import(ImportArgs),
    /// Measure scan time and evaluation throughput on this machine.
    Bench(BenchArgs),
    /// Run the platform server: REST API, workers and scheduler (docs/server.md).
    Serve(ServerArgs),
    /// Run workers and the scheduler only, to scale out beside `serve` (PostgreSQL).
    Worker(ServerArgs),
    /// Create or upgrade the database schema, then exit.
    Migrate(ServerArgs),
    /// Administer users and the credential key.
    #[command(subcommand_required = true)]
    Admin(AdminArgs),
    /// Check the audit log.
    #[command(subcommand_required = true)]
    Audit(AuditArgs),
    /// Copy the server's SQLite database (consistent, while it runs) and, on request, its keys.
    Backup(BackupArgs),
    /// Restore a backup into an empty data directory and verify its audit chain.
    Restore(RestoreArgs),
    /// Measure the server at fleet scale on generated data: ingest rate and API read latency.
    BenchServer(BenchServerArgs),
    /// Measure alert evaluation and notification fan-out at fleet scale on generated data.
    BenchAlerts(BenchAlertsArgs),
    /// Print a shell completion script to standard output (e.g. `openwatch completions bash
    /// > /etc/bash_completion.d/openwatch`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the manual pages (openwatch.1 and one per command) into a directory.
    Man {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// A scan's or a fleet scan's JSON (`openwatch.scan/v1` or `openwatch.fleet/v1`).
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    #[arg(long, value_enum)]
    pub format: ReportFormat,
    /// Write here (replaced whole, never half-written) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Rule directories the scan used besides the built-in library (for fix guidance).
    #[arg(long = "rules", value_name = "DIR")]
    pub rule_dirs: Vec<PathBuf>,
    /// Only the rules that cite this framework (`cis_debian12`, `nist_800_53`, ...).
    #[arg(long, value_name = "NAME")]
    pub framework: Option<String>,
    /// For html and pdf: the executive summary only, or also every host's findings.
    #[arg(long, value_enum, default_value_t = ReportDetail::Full)]
    pub detail: ReportDetail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportDetail {
    /// Scores per framework, trend, hosts worst first, top risks, accepted risks.
    Executive,
    /// The summary and every failing, accepted or undecided rule per host.
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// SARIF 2.1.0.
    Sarif,
    /// XCCDF 1.2 results.
    Xccdf,
    /// OSCAL 1.1.2 Assessment Results (JSON), by NIST SP 800-53 control.
    OscalAr,
    /// OSCAL 1.1.2 Plan of Action and Milestones (JSON): an item and a risk per failing rule.
    OscalPoam,
    /// One self-contained HTML page: executive summary and findings per host with evidence
    /// and how to fix them.
    Html,
    /// The same report as a PDF (laid out in-process, fonts embedded, vector charts).
    Pdf,
}

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The results file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Output format (json and jsonl: `openwatch.import/v1`).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Rule directories to add to the built-in library when tying results to rules.
    #[arg(long = "rules", value_name = "DIR")]
    pub rule_dirs: Vec<PathBuf>,
    /// The scanner that wrote the file (default: recognised from its content).
    #[arg(long, value_enum)]
    pub from: Option<ImportSource>,
    /// The host the results are for, when the file does not say (Wazuh SCA results).
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportSource {
    /// XCCDF 1.2/1.1 results or an ARF report (OpenSCAP `--results`/`--results-arf`).
    Xccdf,
    /// Chef InSpec `--reporter json`.
    Inspec,
    /// Nessus `.nessus` (v2) compliance audit results.
    Nessus,
    /// Wazuh SCA results from its API (`/sca/{agent}/checks/{policy}`); needs --target.
    Wazuh,
}

#[derive(Debug, Clone, Args)]
pub struct BenchAlertsArgs {
    /// An empty database to fill (default: SQLite in a temporary directory).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    #[arg(long, default_value_t = 10_000)]
    pub hosts: usize,
    /// Hosts that start failing a rule in the measured scan cycle.
    #[arg(long, default_value_t = 1_000)]
    pub changed: usize,
    #[arg(long, default_value_t = 50)]
    pub rules: usize,
    /// Concurrent writers and workers.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
}

#[derive(Debug, Clone, Args)]
pub struct BenchServerArgs {
    /// An empty database to fill (default: SQLite in a temporary directory).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    #[arg(long, default_value_t = 10_000)]
    pub hosts: usize,
    #[arg(long, default_value_t = 300)]
    pub rules: usize,
    /// Days of history to seed.
    #[arg(long, default_value_t = 30)]
    pub days: i64,
    /// Concurrent ingesting writers.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Timed requests per endpoint.
    #[arg(long, default_value_t = 200)]
    pub requests: usize,
}

/// Where the server's configuration comes from; flags override `openwatch.toml` and
/// `OPENWATCH_*` variables.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Configuration file (default: ./openwatch.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long, global = true, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// `sqlite:PATH` or `postgres://...` (default: SQLite in the data directory).
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Data directory (default ./openwatch-data).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    /// Scans this process runs at once.
    #[arg(long, global = true, value_name = "N")]
    pub workers: Option<usize>,
    /// PEM certificate chain for HTTPS (with --tls-key).
    #[arg(long, global = true, value_name = "FILE")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key for HTTPS (with --tls-cert).
    #[arg(long, global = true, value_name = "FILE")]
    pub tls_key: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    pub command: AdminCommand,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Clone, Subcommand)]
pub enum AdminCommand {
    /// Create a user; the password is read from OPENWATCH_NEW_PASSWORD or standard input.
    CreateUser {
        username: String,
        /// admin, security_admin, operator, auditor, viewer or a custom role.
        #[arg(long, default_value = "viewer")]
        role: String,
    },
    /// Set a user's password (from OPENWATCH_NEW_PASSWORD or standard input) and end their sessions.
    ResetPassword { username: String },
    /// Re-encrypt every stored credential under a new key.
    RotateKey,
}

#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// A new (or empty) directory for the backup.
    #[arg(long, value_name = "DIR")]
    pub to: std::path::PathBuf,
    /// Also copy the credential key and the audit key. Without them the backup's secrets
    /// cannot be read and its audit chain cannot be verified; with them, guard the backup
    /// like the keys.
    #[arg(long)]
    pub with_keys: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// A directory written by `openwatch backup`.
    #[arg(long, value_name = "DIR")]
    pub from: std::path::PathBuf,
    /// Replace an existing database (and keys that differ) in the data directory.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Clone, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain; exit 1 and name the first bad event if anything was edited or deleted.
    Verify,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Jsonl,
    Csv,
}

/// How `scan` prints results: [`Format`]'s formats and the interchange formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    Table,
    Json,
    Jsonl,
    Csv,
    /// SARIF 2.1.0, for CI systems' code-scanning views.
    Sarif,
    /// XCCDF 1.2 results (a Benchmark with one TestResult per host), as OpenSCAP writes.
    Xccdf,
}

/// Which rules to use.
#[derive(Debug, Clone, Args)]
pub struct Filters {
    /// Only this rule id (repeatable).
    #[arg(long = "rule", value_name = "ID")]
    pub rules: Vec<String>,
    /// Only rules mapped to this framework, e.g. cis_debian12, stig_ubuntu2204, nist_800_53, pci_dss_4 (repeatable).
    #[arg(long = "framework", value_name = "NAME")]
    pub frameworks: Vec<String>,
    /// Only rules mapped to this control, e.g. AC-6 (also matches AC-6(2)) or 5.1 (repeatable).
    #[arg(long = "control", value_name = "ID")]
    pub controls: Vec<String>,
    /// Only rules of this severity: low, medium, high, critical (repeatable).
    #[arg(long = "severity", value_name = "LEVEL")]
    pub severities: Vec<String>,
    /// Only rules with this tag or category (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Extra rule directory, loaded after the built-in library (repeatable).
    #[arg(long = "rules", value_name = "DIR")]
    pub rule_dirs: Vec<PathBuf>,
}

/// Which hosts, and how to reach them over SSH (shared by `scan` and `fix`).
#[derive(Debug, Args)]
pub struct SshArgs {
    /// Hosts over SSH: [user@]host[:port] (repeatable).
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// The hosts of an inventory file (YAML; see docs/inventory.md).
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// Hosts worked on at the same time.
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub concurrency: usize,
    /// Private key file for SSH (ed25519, ecdsa or rsa; encrypted keys need --identity-passphrase-env).
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// Environment variable holding the identity's passphrase.
    #[arg(long, value_name = "VAR")]
    pub identity_passphrase_env: Option<String>,
    /// Environment variable holding the SSH login password.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Become root with `sudo -n` (passwordless sudo).
    #[arg(long)]
    pub sudo: bool,
    /// Become root with sudo, reading its password from this environment variable (sent on stdin).
    #[arg(long, value_name = "VAR")]
    pub sudo_password_env: Option<String>,
    /// known_hosts file to verify host keys against (default ~/.ssh/known_hosts).
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Trust and record the key of a host not yet in known_hosts (reported in the output).
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// Reach the hosts through this bastion: [user@]host[:port].
    #[arg(long, value_name = "HOST")]
    pub jump: Option<String>,
    /// Seconds allowed for each hop's SSH login: connect, key exchange and authentication.
    #[arg(long, value_name = "SECONDS")]
    pub connect_timeout: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub ssh: SshArgs,
    /// Benchmarking: run one SSH exec per rule instead of one script per host.
    #[arg(long, hide = true)]
    pub exec_per_check: bool,
    /// Scan this machine.
    #[arg(long, conflicts_with_all = ["facts", "targets", "inventory"])]
    pub local: bool,
    /// Evaluate offline against facts saved with --save-facts.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["targets", "inventory"])]
    pub facts: Option<PathBuf>,
    /// Write every fact collected from the host to FILE (JSON).
    #[arg(long, value_name = "FILE")]
    pub save_facts: Option<PathBuf>,
    #[command(flatten)]
    pub filters: Filters,
    /// Set a rule variable, e.g. --var sshd_max_auth_tries=3 (repeatable).
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub vars: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ScanFormat::Table)]
    pub format: ScanFormat,
    /// Lowest severity whose failure makes the exit code 1.
    #[arg(long, value_name = "SEVERITY", default_value = "low")]
    pub fail_on: String,
    /// Also exit 1 when a rule could not be decided (`error` verdict) at or above --fail-on.
    #[arg(long)]
    pub fail_on_error: bool,
    /// Skip filesystem-wide walks (world-writable, unowned, SUID/SGID searches); those rules become `skipped`.
    #[arg(long)]
    pub no_walk: bool,
    /// Accepted risks (YAML: `exceptions:` list of rule, hosts, justification, expires):
    /// the failures they cover are reported `excepted` and do not fail the exit code.
    #[arg(long, value_name = "FILE")]
    pub exceptions: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FixArgs {
    #[command(flatten)]
    pub ssh: SshArgs,
    /// Fix this machine (run as root).
    #[arg(long, conflicts_with_all = ["targets", "inventory"])]
    pub local: bool,
    #[command(flatten)]
    pub filters: Filters,
    /// Set a rule variable, e.g. --var sshd_max_auth_tries=3 (repeatable).
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub vars: Vec<String>,
    /// Show what would change (unified diffs, other steps), change nothing.
    #[arg(long, conflicts_with_all = ["yes", "rollback"])]
    pub dry_run: bool,
    /// Apply without asking (otherwise the preview is shown and a terminal is asked).
    #[arg(long)]
    pub yes: bool,
    /// Roll back this transaction (from the host's journal) instead of fixing.
    #[arg(long, value_name = "TRANSACTION_ID")]
    pub rollback: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FixFormat::Table)]
    pub format: FixFormat,
    /// Seconds a fresh SSH connection has to confirm access after a change that can cut it
    /// (sshd, PAM, sudo, firewall) before the host rolls the change back by itself.
    #[arg(long, value_name = "SECONDS", default_value_t = openwatch_collect::deadman::DEFAULT_SECS)]
    pub deadman_secs: u32,
    /// The journal directory on the hosts.
    #[arg(long, value_name = "DIR", default_value = openwatch_collect::txn::JOURNAL_DIR)]
    pub journal_dir: String,
    /// Skip filesystem-wide walks when scanning.
    #[arg(long)]
    pub no_walk: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FixFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub command: RulesCommand,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// List rules (filters as for scan).
    List {
        #[command(flatten)]
        filters: Filters,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show one rule: its metadata and its YAML source.
    Show {
        id: String,
        #[arg(long = "rules", value_name = "DIR")]
        rule_dirs: Vec<PathBuf>,
    },
    /// Validate rule files (default: the built-in library); exit 1 on any error.
    Lint {
        /// Rule files or directories to lint instead of the built-in library.
        dirs: Vec<PathBuf>,
        /// Treat warnings as errors.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Which controls of a framework the rules cover.
    Coverage {
        #[arg(long, value_name = "NAME")]
        framework: String,
        #[arg(long = "rules", value_name = "DIR")]
        rule_dirs: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// The library as an OSCAL 1.1.2 component definition: per NIST SP 800-53 control, the
    /// rules that check it.
    OscalComponent {
        #[arg(long = "rules", value_name = "DIR")]
        rule_dirs: Vec<PathBuf>,
        /// Write here (replaced whole) instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Full local scans to time.
    #[arg(long, default_value_t = 5)]
    pub iterations: usize,
    /// Seconds to spend measuring evaluation throughput.
    #[arg(long, default_value_t = 2.0)]
    pub eval_seconds: f64,
    /// Also time a scan that includes the filesystem-wide walk.
    #[arg(long)]
    pub with_walk: bool,
    /// Measure evaluation throughput over these saved facts instead of this machine's.
    #[arg(long, value_name = "FILE")]
    pub facts: Option<PathBuf>,
}
