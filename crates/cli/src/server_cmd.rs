//! `openwatch serve|worker|migrate|admin|audit`: the platform server's commands.

use std::io::BufRead as _;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use openwatch_server::serve::{self, Role};
use openwatch_server::{Config, Library, admin};

use crate::cli::{AdminArgs, AdminCommand, AuditArgs, AuditCommand, BenchServerArgs, ServerArgs};
use crate::library;

fn config(args: &ServerArgs) -> Result<Config> {
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

fn runtime() -> Result<tokio::runtime::Runtime> {
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

pub fn admin(args: &AdminArgs) -> Result<ExitCode> {
    let cfg = config(&args.server)?;
    runtime()?.block_on(async {
        let (store, _) = serve::open(&cfg).await?;
        match &args.command {
            AdminCommand::CreateUser { username, role } => {
                admin::create_user(&*store, username, role, &new_password()?).await?;
                println!("created user {username} with role {role}");
            }
            AdminCommand::ResetPassword { username } => {
                admin::reset_password(&*store, username, &new_password()?).await?;
                println!("password of {username} changed; their sessions were ended");
            }
            AdminCommand::RotateKey => {
                let n = admin::rotate_key(&*store, &cfg.credential_key_path()).await?;
                println!(
                    "re-encrypted {n} credential(s) under a new key in {}",
                    cfg.credential_key_path().display()
                );
            }
        }
        Ok::<_, anyhow::Error>(ExitCode::SUCCESS)
    })
}

pub fn audit(args: &AuditArgs) -> Result<ExitCode> {
    let cfg = config(&args.server)?;
    runtime()?.block_on(async {
        let (store, _) = serve::open(&cfg).await?;
        match args.command {
            AuditCommand::Verify => match admin::verify_audit(&*store).await? {
                (n, None) => {
                    println!("audit log intact: {n} events, hash chain verified");
                    Ok(ExitCode::SUCCESS)
                }
                (n, Some(b)) => {
                    println!("AUDIT LOG BROKEN at event {}: {} ({n} events stored)", b.seq, b.problem);
                    Ok(ExitCode::from(1))
                }
            },
        }
    })
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
