//! `openwatch serve` and `openwatch worker`: the platform server. It keeps the fleet's
//! compliance state in a [`openwatch_store::Store`], runs scans from a durable job queue,
//! schedules them, and serves the REST API under `/api/v1`.
//!
//! Layout: `service/` holds every operation once (typed input, domain error); `http/` the
//! one route table for API and pages, the guard, the error envelope and OpenAPI; `api/`
//! and `web/` are thin adapters per feature (JSON, pages); `worker/` runs jobs and the
//! scheduler; `auth/` resolves callers and their permissions.

pub mod admin;
pub mod api;
pub mod app;
pub mod auth;
pub mod bench;
pub mod bench_alerts;
pub mod config;
pub mod http;
pub mod instances;
pub mod metrics;
pub mod serve;
pub mod service;
pub mod timefmt;
pub mod web;
pub mod worker;

pub use app::{AppState, Library};
pub use config::Config;
