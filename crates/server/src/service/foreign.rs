//! Results of other scanners kept beside OpenWatch's own: an uploaded file (OpenSCAP
//! XCCDF/ARF, InSpec JSON, Nessus compliance, Wazuh SCA) is read by the core's importers,
//! each of its hosts matched to a host of the server by name or address, each result tied to
//! the OpenWatch rule it stands for and related to the rules citing its controls, and kept
//! whole or not at all. Host pages show them as results from another source. The same for
//! the API and the pages.

use std::collections::HashMap;

use openwatch_core::import::{Correlator, ForeignRef, ImportedHost, Source};
use openwatch_store::{
    ForeignResult, ForeignSource, HostForeignResult, HostQuery, NewImport, NewImportedHost, Page,
    StoredImport,
};
use serde::Deserialize;
use serde_json::json;

use super::{Done, ServiceError, ServiceResult, note};
use crate::app::{AppState, now_ms};
use crate::auth::need::{HostsRead, HostsWrite, RulesRead};
use crate::http::guard::Grant;

/// The largest file taken (an ARF of a large benchmark is tens of megabytes).
pub const MAX_BYTES: usize = 64 << 20;

/// An upload as callers give it.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Upload {
    /// The file's name, shown with the import.
    #[serde(default)]
    pub filename: Option<String>,
    /// `xccdf`, `inspec`, `nessus` or `wazuh`; recognised from the content when absent.
    #[serde(default)]
    pub source: Option<String>,
    /// The host the results are for, when the file does not say (Wazuh).
    #[serde(default)]
    pub target: Option<String>,
}

/// Read and keep another scanner's results.
pub async fn import(
    state: &AppState,
    g: &Grant<HostsWrite>,
    up: Upload,
    bytes: &[u8],
) -> ServiceResult<Done<StoredImport>> {
    let filename =
        up.filename.as_deref().map(str::trim).filter(|f| !f.is_empty()).unwrap_or("upload").to_owned();
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ServiceError::invalid("file", format!("{filename}: not UTF-8 text ({e})")))?;
    let source = match up.source.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => *Source::ALL.iter().find(|x| x.as_str() == s).ok_or_else(|| {
            let all: Vec<&str> = Source::ALL.iter().map(|x| x.as_str()).collect();
            ServiceError::invalid("source", format!("`{s}` is not one of {}", all.join(", ")))
        })?,
        None => Source::detect(text).ok_or_else(|| {
            ServiceError::invalid(
                "file",
                format!("{filename}: not results OpenWatch reads (XCCDF/ARF, InSpec JSON, Nessus v2, Wazuh SCA); say which with source"),
            )
        })?,
    };
    let target = up.target.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let hosts =
        source.parse(&filename, text, target).map_err(|e| ServiceError::invalid("file", e.to_string()))?;
    let known = known_hosts(state).await?;
    let correlator = Correlator::new(&state.library.rules);
    let new = NewImport {
        source: ForeignSource::parse(source.as_str())
            .ok_or_else(|| ServiceError::internal("an unknown source"))?,
        filename,
        imported_by: g.username().to_owned(),
        hosts: hosts.iter().map(|h| imported_host(h, &known, &correlator)).collect(),
    };
    let stored = state.store().store_import(&new, now_ms()).await?;
    let audit = note(
        format!("import:{}", stored.id),
        json!({"source": stored.source, "filename": stored.filename, "hosts": stored.hosts,
            "matched_hosts": stored.matched_hosts, "results": stored.results}),
    );
    Ok(Done::new(stored, audit))
}

/// Every host of the server by name and by address (with and without its port).
async fn known_hosts(state: &AppState) -> ServiceResult<HashMap<String, i64>> {
    let mut known = HashMap::new();
    for h in super::hosts::all_hosts(state, &HostQuery::default()).await? {
        known.entry(h.address.clone()).or_insert(h.id);
        known.entry(format!("{}:{}", h.address, h.port)).or_insert(h.id);
        // A name wins over an address that happens to equal another host's name.
        known.insert(h.name, h.id);
    }
    Ok(known)
}

fn imported_host(h: &ImportedHost, known: &HashMap<String, i64>, correlator: &Correlator) -> NewImportedHost {
    // `root@web-1:22` as OpenWatch's own XCCDF names its targets: the host part too.
    let bare = h.target.rsplit_once('@').map_or(h.target.as_str(), |(_, host)| host);
    let host_id = [h.target.as_str(), bare, bare.rsplit_once(':').map_or(bare, |(host, _)| host)]
        .into_iter()
        .chain(h.addresses.iter().map(String::as_str))
        .find_map(|name| known.get(name).copied());
    NewImportedHost {
        host_id,
        target: h.target.clone(),
        results: h
            .results
            .iter()
            .map(|r| ForeignResult {
                rule: r.rule.clone(),
                result: r.result.clone(),
                verdict: r.verdict,
                severity: r.severity.clone(),
                message: r.message.clone(),
                references: r.references.iter().map(ForeignRef::key).collect(),
                openwatch_rule: correlator.rule(&r.rule).map(str::to_owned),
                related_rules: correlator.related(&r.references).into_iter().map(str::to_owned).collect(),
            })
            .collect(),
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct ListFilter {
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

pub async fn list(
    state: &AppState,
    _g: &Grant<HostsRead>,
    f: &ListFilter,
) -> ServiceResult<Page<StoredImport>> {
    Ok(state.store().list_imports(super::page(f.page, f.per_page)?).await?)
}

/// A host's results from the newest import of each other scanner.
pub async fn host_results(
    state: &AppState,
    _g: &Grant<HostsRead>,
    host_id: i64,
) -> ServiceResult<Vec<HostForeignResult>> {
    state.store().host(host_id).await?.ok_or(ServiceError::NotFound("host"))?;
    Ok(state.store().host_foreign_results(host_id).await?)
}

/// What other scanners said about a framework's control, by scanner and verdict, over the
/// newest import of each scanner for each host; empty for frameworks they do not cite.
pub async fn control_counts(
    state: &AppState,
    _g: &Grant<RulesRead>,
    framework: &str,
    control: &str,
) -> ServiceResult<Vec<(ForeignSource, openwatch_core::eval::Status, i64)>> {
    match ForeignRef::control_key(framework, control) {
        Some(key) => Ok(state.store().control_foreign_counts(&key).await?),
        None => Ok(Vec::new()),
    }
}
