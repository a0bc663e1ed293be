//! `openwatch serve|worker|migrate|admin|audit`: the platform server's commands.

use std::io::BufRead as _;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use openwatch_server::serve::{self, Role};
use openwatch_server::{Config, Library, admin};
use openwatch_store::{NewAuditEvent, Store};
use serde_json::{Value, json};

use crate::cli::{
    AdminArgs, AdminCommand, AuditArgs, AuditCommand, BenchAlertsArgs, BenchServerArgs, ServerArgs,
};
use crate::library;

pub(crate) fn config(args: &ServerArgs) -> Result<Config> {
    let mut cfg = Config::load(args.config.as_deref())?;
    if let Some(v) = args.listen {
        cfg.listen = v;
    }
    if let Some(v) = &args.database_url {
        cfg.database_url = v.clone();
    }
    if let Some(v) = &args.data_dir {
        cfg.data_dir = v.clone();
    }
    if let Some(v) = args.workers {
        cfg.worker_concurrency = v;
    }
    if args.tls_cert.is_some() || args.tls_key.is_some() {
        cfg.tls_cert = args.tls_cert.clone();
        cfg.tls_key = args.tls_key.clone();
    }
    cfg.validate()?;
    Ok(cfg)
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OPENWATCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if cfg.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn server_library() -> Result<Arc<Library>> {
    let lib = library::load(&[], true)?;
    Ok(Arc::new(Library { rules: lib.rules.into(), catalogs: library::catalogs()? }))
}

pub fn run_server(args: &ServerArgs, role: Role) -> Result<ExitCode> {
    let cfg = config(args)?;
    init_logging(&cfg);
    let lib = server_library()?;
    runtime()?.block_on(serve::run(cfg, lib, role))?;
    Ok(ExitCode::SUCCESS)
}

pub fn migrate(args: &ServerArgs) -> Result<ExitCode> {
    let cfg = config(args)?;
    runtime()?.block_on(async {
        let (store, _) = serve::open(&cfg).await?;
        let versions = store.migrations().await?;
        println!(
            "{} database {} is at schema version {}",
            store.backend(),
            serve::redact_url(&cfg.database_url()),
            versions.last().copied().unwrap_or(0)
        );
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// A new password: OPENWATCH_NEW_PASSWORD, else one line of standard input (never argv).
fn new_password() -> Result<String> {
    if let Ok(p) = std::env::var("OPENWATCH_NEW_PASSWORD")
        && !p.is_empty()
    {
        return Ok(p);
    }
    eprintln!("password (one line on standard input):");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading the password")?;
    let p = line.trim_end_matches(['\n', '\r']).to_owned();
    if p.is_empty() {
        bail!("no password given (set OPENWATCH_NEW_PASSWORD or pipe it on standard input)");
    }
    Ok(p)
}

/// Who runs a command: `cli:<login name>` of the process's real user (the uid when it has
/// no name).
fn cli_actor() -> String {
    let uid = nix::unistd::getuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => format!("cli:{}", user.name),
        _ => format!("cli:uid{uid}"),
    }
}

/// Record an admin command in the audit log, as the API records its calls: what was done
/// to what, by whom, and whether it worked (with the error when it did not).
pub(crate) async fn audit_admin(
    store: &dyn Store,
    action: &str,
    target: &str,
    outcome: &Result<Value>,
) -> Result<()> {
    let now = openwatch_server::app::now_ms();
    let (result, details) = match outcome {
        Ok(d) => ("success", d.clone()),
        Err(e) => ("failure", json!({"error": format!("{e:#}")})),
    };
    store
        .append_audit(&NewAuditEvent {
            at: now,
            actor: cli_actor(),
            action: action.into(),
            target: target.into(),
            outcome: result.into(),
            source: "cli".into(),
            correlation_id: format!("cli-{}-{now}", std::process::id()),
            details,
        })
        .await
        .context("writing the audit event")?;
    Ok(())
}

pub fn admin(args: &AdminArgs) -> Result<ExitCode> {
    let cfg = config(&args.server)?;
    runtime()?.block_on(async {
        let (store, _) = serve::open(&cfg).await?;
        let (action, target, outcome) = match &args.command {
            AdminCommand::CreateUser { username, role } => {
                let done = async {
                    admin::create_user(&*store, username, role, &new_password()?).await?;
                    println!("created user {username} with role {role}");
                    Ok(json!({"role": role}))
                };
                ("user.create", format!("user:{username}"), done.await)
            }
            AdminCommand::ResetPassword { username } => {
                let done = async {
                    admin::reset_password(&*store, username, &new_password()?).await?;
                    println!("password of {username} changed; their sessions were ended");
                    Ok(json!({}))
                };
                ("user.reset_password", format!("user:{username}"), done.await)
            }
            AdminCommand::RotateKey => {
                let done = async {
                    let n = store.rotate_credential_key(openwatch_server::app::now_ms()).await?;
                    println!(
                        "re-encrypted {n} credential(s) under a new key in {}",
                        cfg.credential_key_path().display()
                    );
                    Ok(json!({"credentials": n}))
                };
                ("credential.rotate_key", "credentials".to_owned(), done.await)
            }
        };
        audit_admin(&*store, action, &target, &outcome).await?;
        outcome.map(|_| ExitCode::SUCCESS)
    })
}

pub fn audit(args: &AuditArgs) -> Result<ExitCode> {
    let cfg = config(&args.server)?;
    runtime()?.block_on(async {
        let (store, _) = serve::open(&cfg).await?;
        match args.command {
            AuditCommand::Verify => {
                let v = store.verify_audit().await?;
                let n = v.events;
                match v.broken {
                    None => {
                        print!(
                            "audit log intact: {n} events, hash chain and head verified with the audit key"
                        );
                        if v.unkeyed_events > 0 {
                            print!(
                                " (the first {} predate the key: unkeyed, pinned by the first keyed event)",
                                v.unkeyed_events
                            );
                        }
                        println!();
                        Ok(ExitCode::SUCCESS)
                    }
                    Some(b) => {
                        println!("AUDIT LOG BROKEN at event {}: {} ({n} events stored)", b.seq, b.problem);
                        Ok(ExitCode::from(1))
                    }
                }
            }
        }
    })
}

pub fn bench_alerts(args: &BenchAlertsArgs) -> Result<ExitCode> {
    let dir = tempfile::tempdir().context("a temporary directory")?;
    let cfg = Config {
        data_dir: dir.path().to_path_buf(),
        database_url: args
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite:{}", dir.path().join("bench.db").display())),
        database_connections: (args.concurrency as u32 * 2 + 4).max(8),
        ..Config::default()
    };
    let opts = openwatch_server::bench_alerts::AlertBenchOptions {
        hosts: args.hosts,
        changed: args.changed.min(args.hosts),
        rules: args.rules,
        concurrency: args.concurrency,
    };
    runtime()?.block_on(openwatch_server::bench_alerts::run(cfg, server_library()?, &opts))?;
    Ok(ExitCode::SUCCESS)
}

pub fn bench(args: &BenchServerArgs) -> Result<ExitCode> {
    let dir = tempfile::tempdir().context("a temporary directory")?;
    let cfg = Config {
        data_dir: dir.path().to_path_buf(),
        database_url: args
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite:{}", dir.path().join("bench.db").display())),
        database_connections: (args.concurrency as u32 + 4).max(8),
        ..Config::default()
    };
    let opts = openwatch_server::bench::BenchOptions {
        hosts: args.hosts,
        rules: args.rules,
        days: args.days,
        concurrency: args.concurrency,
        requests: args.requests,
    };
    runtime()?.block_on(openwatch_server::bench::run(cfg, server_library()?, &opts))?;
    Ok(ExitCode::SUCCESS)
}
