//! Reports on both backends, from real local scans: asked for through the API and the
//! pages, drawn by the real worker with progress, downloaded; the PDF's text (read by
//! poppler's pdftotext) carries the verdict counts the scans' API reports, a group's
//! framework report only that framework, and bad requests a clear error.

mod common;

use common::{Backend, TestApp, text};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The words of a PDF, whitespace collapsed.
fn pdf_words(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out =
        std::process::Command::new("pdftotext").args(["-enc", "UTF-8"]).arg(&file).arg("-").output().unwrap();
    assert!(out.status.success(), "pdftotext (poppler-utils, installed by scripts/install-test-deps)");
    String::from_utf8_lossy(&out.stdout).split_whitespace().collect::<Vec<_>>().join(" ")
}

both_backends!(reports_are_drawn_by_a_worker_and_say_what_the_api_says, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let (alpha, scan_a) = app.scanned_local_host("alpha").await;
    let (_, scan_b) = app.scanned_local_host("beta").await;

    // The fleet as a PDF: both hosts read, and the verdict counts the scans' API gives.
    let r = app.drawn_report(json!({"format": "pdf"})).await;
    assert_eq!((r["total"].as_i64(), r["scope"].as_str()), (Some(2), Some("fleet")), "{r}");
    let id = r["id"].as_i64().unwrap();
    let (s, kind, pdf) = app.download_bytes(&format!("/api/v1/reports/{id}/file")).await;
    assert_eq!((s, kind.as_str()), (StatusCode::OK, "application/pdf"));
    let words = pdf_words(&pdf);
    let count = |k: &str| {
        [&scan_a, &scan_b].iter().map(|s| s["summary"]["verdicts"][k].as_u64().unwrap_or(0)).sum::<u64>()
    };
    let said =
        format!("{} pass, {} fail, {} accepted risks", count("pass"), count("fail"), count("excepted"));
    assert!(words.contains(&said), "the PDF says {said:?}: {words}");
    assert!(words.contains("the fleet: 2 hosts scanned") && words.contains("Findings by host"), "{words}");

    // A group's executive HTML for one framework.
    let lab = app.get("/api/v1/groups").await;
    let lab = lab.as_array().or_else(|| lab["items"].as_array()).unwrap()[0]["id"].as_i64().unwrap();
    let r = app.drawn_report(
        json!({"scope": "group", "scope_id": lab, "framework": "cis_debian12", "format": "html", "detail": "executive"}),
    )
    .await;
    let (_, _, html) = app.download(&format!("/api/v1/reports/{}/file", r["id"])).await;
    assert!(
        html.contains("OpenWatch compliance report: cis_debian12") && html.contains("group lab: 2 hosts"),
        "{html}"
    );
    assert!(!html.contains("<td>nist_800_53</td>") && !html.contains("Findings by host"), "{html}");

    // One host's POA&M and Assessment Results.
    for format in ["oscal-poam", "oscal-ar"] {
        let r = app.drawn_report(json!({"scope": "host", "scope_id": alpha, "format": format})).await;
        let (_, _, doc) = app.download(&format!("/api/v1/reports/{}/file", r["id"])).await;
        let doc: Value = serde_json::from_str(&doc).unwrap();
        assert!(
            doc.get("plan-of-action-and-milestones").or(doc.get("assessment-results")).is_some(),
            "{doc}"
        );
    }

    // Bad requests say what is wrong.
    for (ask, says) in [
        (json!({"format": "docx"}), "`docx` is not one of pdf, html"),
        (json!({"framework": "cis_bogus"}), "`cis_bogus` is not one of"),
        (json!({"scope": "group"}), "name the group"),
        (json!({"scope": "host", "scope_id": 999_999}), "no host 999999"),
        (json!({"scope_id": 1}), "a fleet report names no host or group"),
    ] {
        let (s, e) = app.post("/api/v1/reports", ask.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{ask}: {e}");
        assert!(e["error"]["message"].as_str().unwrap().contains(says), "{ask}: {e}");
    }
    let (s, e) = app.send(reqwest::Method::GET, "/api/v1/reports/999999/file", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");

    // The page asks for one and lists them with their download.
    let (s, page) = app
        .form("/reports", &[("scope", "fleet"), ("framework", ""), ("format", "sarif"), ("detail", "full")])
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(text(&page).contains("queued: a worker is drawing it"), "{}", text(&page));
    let list = app.get("/api/v1/reports").await;
    let newest = list["items"][0]["id"].as_i64().unwrap();
    assert_eq!(list["items"][0]["format"], "sarif");
    let r = app.wait_report(newest).await;
    assert_eq!(r["status"], "succeeded", "{r}");
    let (_, page) = app.page("/reports").await;
    assert!(page.contains(&format!("/reports/{newest}/file")), "the list links the file");
    let (s, _, sarif) = app.download(&format!("/reports/{newest}/file")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(serde_json::from_str::<Value>(&sarif).unwrap()["version"], "2.1.0");

    let actions = app.audit_actions().await;
    for a in ["report.request:success", "report.drawn:success"] {
        assert!(actions.iter().any(|x| x == a), "{a} audited: {actions:?}");
    }
    app.stop().await;
});
