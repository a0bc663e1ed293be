//! Hosts from CSV: every row is checked (with the same validation and permission checks
//! as adding one host) before anything is written.

use std::collections::HashMap;

use serde_json::json;

use openwatch_store::{Credential, Transport};

use super::hosts::{HostBody, check_trust, login_user, validate};
use super::{Done, ServiceError, ServiceResult, note};
use crate::app::{AppState, now_ms};
use crate::auth::need::HostsWrite;
use crate::http::guard::Grant;

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
    /// The login name the host will be scanned as and why (see `hosts::login_user`).
    pub user: Option<String>,
    pub user_from: Option<String>,
}

/// Import hosts from CSV with a header row naming columns among name, address, port,
/// username, transport, credential (a credential name), sudo, groups and tags (lists
/// separated by `;`), host_key_policy. Every row is validated first; with `dry_run` (or when
/// any row is bad) nothing is written.
pub async fn import_csv(
    state: &AppState,
    g: &Grant<HostsWrite>,
    text: &str,
    dry_run: bool,
) -> ServiceResult<Done<(bool, Vec<RowResult>)>> {
    let store = state.store();
    let records = csv_records(text).map_err(ServiceError::BadRequest)?;
    let Some(((_, header), rows)) = records.split_first() else {
        return Err(ServiceError::BadRequest("the CSV is empty".into()));
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
        return Err(ServiceError::BadRequest(format!(
            "unknown CSV column `{bad}`; known: {}",
            KNOWN.join(", ")
        )));
    }
    if !header.iter().any(|h| h == "name") {
        return Err(ServiceError::BadRequest("the CSV needs a `name` column".into()));
    }
    let credentials: HashMap<String, Credential> =
        store.list_credentials().await?.into_iter().map(|c| (c.name.clone(), c)).collect();
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
                Some(c) => Some(credentials.get(&c).ok_or_else(|| format!("no credential named `{c}`"))?.id),
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
            let input = validate(store, body).await.map_err(|e| e.to_string())?;
            check_trust(g, None, &input).map_err(|e| e.to_string())?;
            if !seen.insert(input.name.clone()) {
                return Err(format!("host `{}` appears twice in the file", input.name));
            }
            if store.host_by_name(&input.name).await.map_err(|e| ServiceError::from(e).to_string())?.is_some()
            {
                return Err(format!("host `{}` already exists", input.name));
            }
            Ok(input)
        }
        .await;
        match row {
            Ok(input) => {
                let credential = credentials.values().find(|c| Some(c.id) == input.credential_id);
                let (user, from) = match input.transport {
                    Transport::Ssh => {
                        let (u, f) = login_user(&input.username, credential);
                        (Some(u), Some(f))
                    }
                    Transport::Local => (None, None),
                };
                results.push(RowResult {
                    line: *line,
                    name,
                    ok: true,
                    error: None,
                    host_id: None,
                    user,
                    user_from: from,
                });
                inputs.push(input);
            }
            Err(e) => results.push(RowResult {
                line: *line,
                name,
                ok: false,
                error: Some(e),
                host_id: None,
                user: None,
                user_from: None,
            }),
        }
    }
    let valid = results.iter().all(|r| r.ok);
    let errors = results.iter().filter(|r| !r.ok).count();
    if dry_run || !valid {
        let audit = note("hosts", json!({"rows": results.len(), "written": false, "errors": errors}));
        return Ok(Done::new((false, results), audit));
    }
    let now = now_ms();
    for (r, input) in results.iter_mut().zip(&inputs) {
        r.host_id = Some(store.create_host(input, now).await?.id);
    }
    let audit = note("hosts", json!({"rows": results.len(), "written": true, "errors": 0}));
    Ok(Done::new((true, results), audit))
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
