//! The OpenAPI 3.1 document, generated from the route table so it cannot drift from what
//! is served, and a plain HTML page listing it.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::router::{Access, RouteSpec, Surface};

pub fn document(specs: &[RouteSpec]) -> Value {
    let mut paths: BTreeMap<&str, serde_json::Map<String, Value>> = BTreeMap::new();
    for s in specs.iter().filter(|s| s.surface == Surface::Api) {
        let params: Vec<Value> = s
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|p| p.strip_suffix('}')))
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut responses =
            json!({"200": {"description": "Success"}, "default": {"$ref": "#/components/responses/Error"}});
        let security = match s.access {
            Access::Public => json!([]),
            _ => json!([{"session": []}, {"bearer": []}]),
        };
        if s.access != Access::Public {
            responses["401"] = json!({"$ref": "#/components/responses/Error"});
            responses["403"] = json!({"$ref": "#/components/responses/Error"});
        }
        let permission = match s.access {
            Access::Needs(p) => Some(p.as_str()),
            _ => None,
        };
        let op = json!({
            "operationId": s.action,
            "summary": s.summary,
            "tags": [s.tag],
            "parameters": params,
            "security": security,
            "x-permission": permission,
            "responses": responses,
        });
        paths.entry(s.path).or_default().insert(s.method.as_str().to_lowercase(), op);
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "OpenWatch API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Every error has the body {\"error\": {\"code\", \"message\", \"details\"}}."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "openwatch_session"},
                "bearer": {"type": "http", "scheme": "bearer"}
            },
            "responses": {"Error": {"description": "An error", "content": {"application/json": {"schema": {
                "type": "object", "required": ["error"],
                "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"}, "details": {}}}}}}}}}
        }
    })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A readable, script-free listing of the API.
pub fn docs_page(doc: &Value) -> String {
    let mut rows = String::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, ops) in paths {
            for (method, op) in ops.as_object().into_iter().flatten() {
                rows.push_str(&format!(
                    "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>\n",
                    method.to_uppercase(),
                    escape(path),
                    escape(op["summary"].as_str().unwrap_or("")),
                    escape(op["x-permission"].as_str().unwrap_or("-")),
                ));
            }
        }
    }
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>OpenWatch API</title></head>\
         <body><h1>OpenWatch API</h1><p>Machine-readable: <a href=\"/api/v1/openapi.json\">openapi.json</a>. \
         Authenticate with the session cookie from <code>POST /api/v1/auth/login</code> or \
         <code>Authorization: Bearer &lt;token&gt;</code>.</p>\
         <table><thead><tr><th>Method</th><th>Path</th><th>What</th><th>Permission</th></tr></thead>\
         <tbody>{rows}</tbody></table></body></html>"
    )
}
