//! Hosts and groups: CRUD, CSV import, connection tests and host key approval.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use openwatch_store::{HostInput, HostQuery, PageRequest, Store};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{AppState, now_ms};
use crate::auth::Caller;
use crate::http::error::{ApiResult, bad_request, not_found, validation};
use crate::http::json::ApiJson;
use crate::http::{audited, done, note};

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    group: Option<String>,
    platform: Option<String>,
    tag: Option<String>,
    reachability: Option<String>,
    band: Option<String>,
    sort: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

pub async fn list(State(state): State<AppState>, Query(q): Query<ListQuery>) -> ApiResult<Json<Value>> {
    let query = HostQuery {
        search: q.q,
        group: q.group,
        platform: q.platform,
        tag: q.tag,
        reachability: q.reachability,
        band: q.band,
        sort: q.sort,
    };
    let page = state.store().list_hosts(&query, PageRequest::new(q.page, q.per_page)).await?;
    Ok(Json(json!(page)))
}

/// A host as the API accepts it; omitted fields take their defaults.
#[derive(Debug, Deserialize)]
pub struct HostBody {
    pub name: String,
    pub address: Option<String>,
    pub port: Option<i64>,
    pub username: Option<String>,
    pub transport: Option<String>,
    pub credential_id: Option<i64>,
    #[serde(default)]
    pub sudo: bool,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub maintenance: bool,
    pub host_key_policy: Option<String>,
}

/// Validate a host; errors name the field.
pub async fn validate(store: &dyn Store, b: HostBody) -> ApiResult<HostInput> {
    let name = b.name.trim().to_owned();
    if name.is_empty() || name.len() > 253 || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(validation("name", "1-253 characters, no spaces"));
    }
    let transport = b.transport.unwrap_or_else(|| "ssh".into());
    if !["ssh", "local"].contains(&transport.as_str()) {
        return Err(validation("transport", "ssh or local"));
    }
    let address = b.address.map(|a| a.trim().to_owned()).filter(|a| !a.is_empty());
    let address = match (&*transport, address) {
        ("local", a) => a.unwrap_or_else(|| "local".into()),
        (_, Some(a)) if !a.chars().any(|c| c.is_whitespace() || c == '/' || c == '@') => a,
        (_, Some(_)) => return Err(validation("address", "a host name or IP address")),
        (_, None) => name.clone(),
    };
    let port = b.port.unwrap_or(22);
    if !(1..=65535).contains(&port) {
        return Err(validation("port", "between 1 and 65535"));
    }
    let policy = b.host_key_policy.unwrap_or_else(|| "approve".into());
    if !["approve", "accept_new"].contains(&policy.as_str()) {
        return Err(validation("host_key_policy", "approve or accept_new"));
    }
    if let Some(id) = b.credential_id
        && store.credential(id).await?.is_none()
    {
        return Err(validation("credential_id", format!("no credential {id}")));
    }
    let clean = |v: Vec<String>| -> Vec<String> {
        let mut v: Vec<String> =
            v.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
        v.sort();
        v.dedup();
        v
    };
    Ok(HostInput {
        name,
        address,
        port,
        username: b.username.filter(|u| !u.trim().is_empty()).unwrap_or_else(|| "root".into()),
        transport,
        credential_id: b.credential_id,
        sudo: b.sudo,
        tags: clean(b.tags),
        groups: clean(b.groups),
        maintenance: b.maintenance,
        host_key_policy: policy,
    })
}

pub async fn create(State(state): State<AppState>, ApiJson(b): ApiJson<HostBody>) -> ApiResult<Response> {
    let input = validate(state.store(), b).await?;
    let host = state.store().create_host(&input, now_ms()).await?;
    Ok(audited(StatusCode::CREATED, &host, note(format!("host:{}", host.id), json!({"name": host.name}))))
}

pub async fn get(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    let host = state.store().host(id).await?.ok_or_else(|| not_found("host"))?;
    let keys = state.store().host_keys(id).await?;
    Ok(Json(json!({"host": host, "keys": keys})))
}

pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<HostBody>,
) -> ApiResult<Response> {
    let before = state.store().host(id).await?.ok_or_else(|| not_found("host"))?;
    let input = validate(state.store(), b).await?;
    let host = state.store().update_host(id, &input, now_ms()).await?.ok_or_else(|| not_found("host"))?;
    Ok(audited(
        StatusCode::OK,
        &host,
        note(format!("host:{id}"), json!({"name": host.name, "was": before.name})),
    ))
}

pub async fn delete(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Response> {
    let host = state.store().host(id).await?.ok_or_else(|| not_found("host"))?;
    state.store().delete_host(id, now_ms()).await?;
    Ok(done(note(format!("host:{id}"), json!({"name": host.name}))))
}

pub async fn keys(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    state.store().host(id).await?.ok_or_else(|| not_found("host"))?;
    Ok(Json(json!({"items": state.store().host_keys(id).await?})))
}

pub async fn approve_key(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, key_id)): Path<(i64, i64)>,
) -> ApiResult<Response> {
    let keys = state.store().host_keys(id).await?;
    let key = keys.iter().find(|k| k.id == key_id).ok_or_else(|| not_found("host key"))?;
    state.store().approve_host_key(id, key_id, &caller.username, now_ms()).await?;
    Ok(audited(
        StatusCode::OK,
        json!({"approved": key.fingerprint}),
        note(format!("host:{id}"), json!({"fingerprint": key.fingerprint, "algorithm": key.algorithm})),
    ))
}

pub async fn test_connection(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Response> {
    let host = state.store().host(id).await?.ok_or_else(|| not_found("host"))?;
    let result = crate::worker::scan::test_connection(&state, &host).await?;
    Ok(audited(StatusCode::OK, &result, note(format!("host:{id}"), json!({"outcome": result.status}))))
}

pub async fn list_groups(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": state.store().list_groups().await?})))
}

#[derive(Debug, Deserialize)]
pub struct GroupBody {
    name: String,
    #[serde(default)]
    description: String,
}

pub async fn create_group(
    State(state): State<AppState>,
    ApiJson(b): ApiJson<GroupBody>,
) -> ApiResult<Response> {
    let name = b.name.trim();
    if name.is_empty() {
        return Err(validation("name", "must not be empty"));
    }
    let g = state.store().create_group(name, &b.description, now_ms()).await?;
    Ok(audited(StatusCode::CREATED, &g, note(format!("group:{}", g.id), json!({"name": g.name}))))
}

pub async fn delete_group(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Response> {
    let g = state.store().group(id).await?.ok_or_else(|| not_found("group"))?;
    state.store().delete_group(id).await?;
    Ok(done(note(format!("group:{id}"), json!({"name": g.name}))))
}

/// One CSV field list per record (RFC 4180: quotes, doubled quotes, commas and newlines in
/// quoted fields).
fn csv_records(text: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
    let mut out = Vec::new();
    let (mut field, mut record) = (String::new(), Vec::new());
    let (mut quoted, mut line, mut start) = (false, 1, 1);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\n') | (false, '\r') => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                record.push(std::mem::take(&mut field));
                if record.iter().any(|f| !f.is_empty()) {
                    out.push((start, std::mem::take(&mut record)));
                }
                record.clear();
                line += 1;
                start = line;
            }
            (_, c) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
        }
    }
    if quoted {
        return Err(format!("line {start}: unterminated quoted field"));
    }
    record.push(field);
    if record.iter().any(|f| !f.is_empty()) {
        out.push((start, record));
    }
    Ok(out)
}

/// The outcome of importing one CSV row.
#[derive(Debug, serde::Serialize)]
pub struct RowResult {
    pub line: usize,
    pub name: String,
    pub ok: bool,
    pub error: Option<String>,
    pub host_id: Option<i64>,
}

/// Import hosts from CSV with a header row naming columns among name, address, port,
/// username, transport, credential (a credential name), sudo, groups and tags (lists
/// separated by `;`), host_key_policy. Every row is validated first; with `dry_run` (or when
/// any row is bad) nothing is written.
pub async fn import_csv(store: &dyn Store, text: &str, dry_run: bool) -> ApiResult<(bool, Vec<RowResult>)> {
    let records = csv_records(text).map_err(bad_request)?;
    let Some(((_, header), rows)) = records.split_first() else {
        return Err(bad_request("the CSV is empty"));
    };
    let header: Vec<String> = header.iter().map(|h| h.trim().to_lowercase()).collect();
    const KNOWN: &[&str] = &[
        "name",
        "address",
        "port",
        "username",
        "transport",
        "credential",
        "sudo",
        "groups",
        "tags",
        "host_key_policy",
    ];
    if let Some(bad) = header.iter().find(|h| !KNOWN.contains(&h.as_str())) {
        return Err(bad_request(format!("unknown CSV column `{bad}`; known: {}", KNOWN.join(", "))));
    }
    if !header.iter().any(|h| h == "name") {
        return Err(bad_request("the CSV needs a `name` column"));
    }
    let credentials: HashMap<String, i64> =
        store.list_credentials().await?.into_iter().map(|c| (c.name, c.id)).collect();
    let mut results = Vec::new();
    let mut inputs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (line, fields) in rows {
        let get = |col: &str| {
            header.iter().position(|h| h == col).and_then(|i| fields.get(i)).map(|s| s.trim().to_owned())
        };
        let list = |col: &str| -> Vec<String> {
            get(col)
                .map(|v| v.split(';').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
                .unwrap_or_default()
        };
        let name = get("name").unwrap_or_default();
        let row = async {
            if fields.len() != header.len() {
                return Err(format!("{} fields, the header has {}", fields.len(), header.len()));
            }
            let port = match get("port").filter(|p| !p.is_empty()) {
                Some(p) => Some(p.parse::<i64>().map_err(|_| format!("port `{p}` is not a number"))?),
                None => None,
            };
            let credential_id = match get("credential").filter(|c| !c.is_empty()) {
                Some(c) => Some(*credentials.get(&c).ok_or_else(|| format!("no credential named `{c}`"))?),
                None => None,
            };
            let sudo = match get("sudo").unwrap_or_default().to_lowercase().as_str() {
                "" | "false" | "no" | "0" => false,
                "true" | "yes" | "1" => true,
                other => return Err(format!("sudo `{other}` is not true/false")),
            };
            let body = HostBody {
                name: name.clone(),
                address: get("address"),
                port,
                username: get("username"),
                transport: get("transport").filter(|t| !t.is_empty()),
                credential_id,
                sudo,
                tags: list("tags"),
                groups: list("groups"),
                maintenance: false,
                host_key_policy: get("host_key_policy").filter(|p| !p.is_empty()),
            };
            let input = validate(store, body).await.map_err(|e| e.message)?;
            if !seen.insert(input.name.clone()) {
                return Err(format!("host `{}` appears twice in the file", input.name));
            }
            if store.host_by_name(&input.name).await.map_err(|e| e.to_string())?.is_some() {
                return Err(format!("host `{}` already exists", input.name));
            }
            Ok(input)
        }
        .await;
        match row {
            Ok(input) => {
                results.push(RowResult { line: *line, name, ok: true, error: None, host_id: None });
                inputs.push(input);
            }
            Err(e) => results.push(RowResult { line: *line, name, ok: false, error: Some(e), host_id: None }),
        }
    }
    let valid = results.iter().all(|r| r.ok);
    if dry_run || !valid {
        return Ok((false, results));
    }
    let now = now_ms();
    for (r, input) in results.iter_mut().zip(&inputs) {
        r.host_id = Some(store.create_host(input, now).await?.id);
    }
    Ok((true, results))
}

#[derive(Debug, Deserialize)]
pub struct ImportQuery {
    #[serde(default)]
    dry_run: bool,
}

pub async fn import(
    State(state): State<AppState>,
    Query(q): Query<ImportQuery>,
    body: String,
) -> ApiResult<Response> {
    let (written, rows) = import_csv(state.store(), &body, q.dry_run).await?;
    let errors = rows.iter().filter(|r| !r.ok).count();
    let status = if errors > 0 { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let body = json!({"imported": written, "rows": rows.len(), "errors": errors, "results": rows});
    Ok(audited(
        status,
        &body,
        note("hosts", json!({"rows": rows.len(), "written": written, "errors": errors})),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_handles_quotes_and_line_numbers() {
        let r = csv_records("name,tags\nweb1,\"a;b\"\n\n\"we\"\"ird\",\"x,\ny\"\n").unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[1], (2, vec!["web1".to_owned(), "a;b".to_owned()]));
        assert_eq!(r[2], (4, vec!["we\"ird".to_owned(), "x,\ny".to_owned()]));
        assert!(csv_records("a,\"b\n").is_err());
    }
}
