//! `openwatch backup` and `openwatch restore` for the SQLite backend. A backup is a
//! directory: a consistent copy of the database taken while the server runs (`VACUUM INTO`),
//! a manifest, and, only when asked, the credential and audit keys. Restoring refuses to
//! overwrite anything without `--force`, puts the keys in place before the database is
//! opened, and verifies the audit chain with them. PostgreSQL is backed up and restored with
//! its own tools (docs/server.md, "Backup and restore").

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use openwatch_server::serve;
use serde_json::json;

use crate::cli::{BackupArgs, RestoreArgs};
use crate::server_cmd::{audit_admin, config, runtime};

const MANIFEST: &str = "manifest.json";
const FORMAT: &str = "openwatch.backup/v1";
const DATABASE: &str = "openwatch.db";

/// A key file's name in a backup, and where the server keeps it.
fn keys(cfg: &openwatch_server::Config) -> [(&'static str, PathBuf); 2] {
    [("credential.key", cfg.credential_key_path()), ("audit.key", cfg.audit_key_path())]
}

fn private_copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("making {} private", to.display()))
}

fn sqlite_path(url: &str) -> Result<PathBuf> {
    match url.strip_prefix("sqlite:") {
        Some(p) => Ok(PathBuf::from(p.split('?').next().unwrap_or(p))),
        None => bail!(
            "the database is PostgreSQL: back it up with pg_dump and restore it with pg_restore (docs/server.md, \"Backup and restore\")"
        ),
    }
}

pub fn backup(args: &BackupArgs) -> Result<ExitCode> {
    let cfg = config(&args.server)?;
    sqlite_path(&cfg.database_url())?;
    let dir = &args.to;
    if dir.exists()
        && std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?.next().is_some()
    {
        bail!("{} is not empty: name a new directory for the backup", dir.display());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    runtime()?.block_on(async {
        let (store, _) = serve::open(&cfg).await?;
        let done = async {
            let db = dir.join(DATABASE);
            store.backup_to(&db).await.context("copying the database")?;
            std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600))?;
            let mut copied = Vec::new();
            if args.with_keys {
                for (name, from) in keys(&cfg) {
                    private_copy(&from, &dir.join(name))?;
                    copied.push(name);
                }
            }
            let manifest = json!({
                "format": FORMAT,
                "openwatch": env!("CARGO_PKG_VERSION"),
                "created_at": openwatch_server::timefmt::rfc3339(Some(openwatch_server::app::now_ms())),
                "migrations": store.migrations().await?,
                "keys": copied,
            });
            std::fs::write(dir.join(MANIFEST), serde_json::to_string_pretty(&manifest)?)?;
            println!("database copied to {}", db.display());
            if copied.is_empty() {
                let [(_, c), (_, a)] = keys(&cfg);
                println!(
                    "keys NOT included: restoring needs {} and {} from this server (or back up with --with-keys)",
                    c.display(),
                    a.display()
                );
            } else {
                println!(
                    "keys included: {} and {} (guard this backup like the keys: it opens every stored secret)",
                    dir.join("credential.key").display(),
                    dir.join("audit.key").display()
                );
            }
            Ok(json!({"keys": copied}))
        };
        let outcome = done.await;
        audit_admin(&*store, "system.backup", &format!("backup:{}", dir.display()), &outcome).await?;
        outcome.map(|_| ExitCode::SUCCESS)
    })
}

pub fn restore(args: &RestoreArgs) -> Result<ExitCode> {
    let cfg = config(&args.server)?;
    let db = sqlite_path(&cfg.database_url())?;
    let from = &args.from;
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(from.join(MANIFEST))
            .with_context(|| format!("{} is not a backup: no {MANIFEST}", from.display()))?,
    )
    .with_context(|| format!("reading {}", from.join(MANIFEST).display()))?;
    if manifest["format"] != FORMAT {
        bail!("{}: not an OpenWatch backup ({FORMAT})", from.join(MANIFEST).display());
    }
    if db.exists() && !args.force {
        bail!("{} exists: restore into an empty data directory, or pass --force to replace it", db.display());
    }
    if !cfg.data_dir.exists() {
        std::fs::create_dir_all(&cfg.data_dir)
            .with_context(|| format!("creating {}", cfg.data_dir.display()))?;
        std::fs::set_permissions(&cfg.data_dir, std::fs::Permissions::from_mode(0o700))?;
    }
    // The keys first: opening the store would otherwise make new ones.
    for (name, target) in keys(&cfg) {
        let saved = from.join(name);
        if saved.exists() {
            if target.exists() && std::fs::read(&target)? != std::fs::read(&saved)? && !args.force {
                bail!("{} differs from the backup's {name}: pass --force to replace it", target.display());
            }
            private_copy(&saved, &target)?;
        } else if !target.exists() {
            bail!(
                "the backup has no {name} and {} does not exist: copy it from the original server first",
                target.display()
            );
        }
    }
    // A copy beside the database, then a rename: never a half-written database.
    let staged = db.with_extension("db.restoring");
    private_copy(&from.join(DATABASE), &staged)?;
    for stale in ["-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{stale}", db.display()));
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
        }
    }
    std::fs::rename(&staged, &db).with_context(|| format!("moving the database to {}", db.display()))?;
    runtime()?.block_on(async {
        let (store, _) = serve::open(&cfg).await?;
        let v = store.verify_audit().await?;
        if let Some(b) = v.broken {
            bail!("restored, but the audit chain does not verify at event {}: {}", b.seq, b.problem);
        }
        let outcome = Ok(json!({"from": from.display().to_string(), "audit_events": v.events}));
        audit_admin(&*store, "system.restore", &format!("backup:{}", from.display()), &outcome).await?;
        println!(
            "restored {} into {}: audit log intact ({} events verified)",
            from.display(),
            db.display(),
            v.events
        );
        Ok(ExitCode::SUCCESS)
    })
}
