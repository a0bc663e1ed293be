//! PDF reports, laid out in-process by typst: no browser and no external program at run
//! time, fonts built into the binary. The layout (`report.typ`, our own) reads the report's
//! [`Summary`] as JSON data, so nothing from a host or a rule is ever parsed as markup.
//! Charts are typst shapes, so they stay vectors in the PDF.
//!
//! Rendering is CPU-bound and can take minutes for a large fleet: async callers run it on
//! a blocking thread. typst holds a whole document's layout in memory (about 1.5 MB a page;
//! a thousand hosts' findings are 30,000 pages), so a report with many hosts is laid out in
//! parts (the summary, then the findings of two hosts at a time, page numbers carried on)
//! and the parts' pages joined into one PDF (`merge`).

mod merge;

use std::sync::LazyLock;

use openwatch_core::export::summary::{HostFindings, Summary};
use serde::Serialize;
use typst::diag::{FileError, FileResult, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;

const TEMPLATE: &str = include_str!("report.typ");

/// Why a report could not be laid out: a defect of the layout, not of the input, since the
/// input is data.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("the report could not be laid out: {0}")]
    Layout(String),
    #[error("the report's data could not be serialized: {0}")]
    Data(#[from] serde_json::Error),
    #[error("the report's parts could not be joined: {0}")]
    Join(String),
}

/// Hosts' findings laid out in one part (about 30 pages a host). Small parts, because
/// reading a part back to join it costs time in proportion to its size for each of its
/// objects (lopdf's parser counts lines up to each object).
const HOSTS_PER_PART: usize = 2;

/// Which piece of the report one layout draws.
#[derive(Serialize)]
struct Part {
    /// The executive summary (the first part).
    executive: bool,
    /// The "Findings by host" heading before this part's hosts.
    findings_heading: bool,
    /// The number of the part's first page.
    first_page: usize,
}

/// What the layout reads for the summary: the summary's fields and which part this is.
#[derive(Serialize)]
struct Data<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    part: Part,
}

/// What the layout reads for a part of the findings: only the title and its hosts, so the
/// rest of the summary is neither copied nor read again for every part.
#[derive(Serialize)]
struct FindingsPart<'a> {
    title: &'a str,
    findings: &'a [HostFindings],
    part: Part,
}

/// The fonts typst-assets ships (Libertinus Serif, New Computer Modern, DejaVu Sans Mono),
/// parsed once per process.
static FONTS: LazyLock<(LazyHash<FontBook>, Vec<Font>)> = LazyLock::new(|| {
    let fonts: Vec<Font> = typst_assets::fonts().flat_map(|data| Font::iter(Bytes::new(data))).collect();
    (LazyHash::new(FontBook::from_fonts(&fonts)), fonts)
});

static LIBRARY: LazyLock<LazyHash<Library>> = LazyLock::new(|| LazyHash::new(Library::default()));

/// File ids are interned for the life of the process (at most 65,535), so the two virtual
/// files have fixed paths, interned once.
static MAIN: LazyLock<FileId> = LazyLock::new(|| file_id("/report.typ"));
static DATA: LazyLock<FileId> = LazyLock::new(|| file_id("/data.json"));

fn file_id(path: &str) -> FileId {
    // A fixed, valid path: this cannot fail.
    let vpath = VirtualPath::new(path).unwrap_or_else(|e| panic!("virtual path {path}: {e:?}"));
    RootedPath::new(VirtualRoot::Project, vpath).intern()
}

/// The layout and one report's data; nothing else is reachable.
struct ReportWorld {
    main: Source,
    data: Bytes,
}

impl World for ReportWorld {
    fn library(&self) -> &LazyHash<Library> {
        &LIBRARY
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &FONTS.0
    }

    fn main(&self) -> FileId {
        *MAIN
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == *MAIN { Ok(self.main.clone()) } else { Err(FileError::AccessDenied) }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == *DATA {
            Ok(self.data.clone())
        } else if id == *MAIN {
            Ok(Bytes::from_string(self.main.clone()))
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        FONTS.1.get(index).cloned()
    }

    /// No dates: a report says when its scans ran, not when it was drawn, so the same
    /// data gives the same document.
    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        None
    }
}

/// The PDF of this report.
pub fn render(summary: &Summary) -> Result<Vec<u8>, PdfError> {
    if summary.findings.len() <= HOSTS_PER_PART {
        let part = Part { executive: true, findings_heading: !summary.findings.is_empty(), first_page: 1 };
        return lay_out(&Data { summary, part }).map(|(pdf, _)| pdf);
    }
    // The summary without its findings, copied field by field: cloning it whole would copy
    // every finding only to drop them.
    let head = Summary {
        title: summary.title.clone(),
        subtitle: summary.subtitle.clone(),
        framework: summary.framework.clone(),
        hosts_count: summary.hosts_count,
        overall: summary.overall.clone(),
        frameworks: summary.frameworks.clone(),
        hosts: summary.hosts.clone(),
        top_risks: summary.top_risks.clone(),
        accepted: summary.accepted.clone(),
        trend: summary.trend.clone(),
        other_sources: summary.other_sources.clone(),
        findings: Vec::new(),
    };
    let (first, mut pages) = lay_out(&Data {
        summary: &head,
        part: Part { executive: true, findings_heading: false, first_page: 1 },
    })?;
    let mut parts = vec![first];
    for (i, hosts) in summary.findings.chunks(HOSTS_PER_PART).enumerate() {
        let part = Part { executive: false, findings_heading: i == 0, first_page: pages + 1 };
        let (pdf, n) = lay_out(&FindingsPart { title: &summary.title, findings: hosts, part })?;
        pages += n;
        parts.push(pdf);
    }
    merge::join(&parts, &summary.title)
}

/// One layout: the PDF and its page count.
fn lay_out(data: &impl Serialize) -> Result<(Vec<u8>, usize), PdfError> {
    let world = ReportWorld {
        main: Source::new(*MAIN, TEMPLATE.to_owned()),
        data: Bytes::new(serde_json::to_vec(data)?),
    };
    let compiled = typst::compile::<PagedDocument>(&world).output;
    let pdf = compiled.and_then(|doc| {
        let pages = doc.pages().len();
        typst_pdf::pdf(&doc, &typst_pdf::PdfOptions::default()).map(|pdf| (pdf, pages))
    });
    // typst memoizes across compilations; a long-running server would keep every report's
    // layout in memory without this.
    typst::comemo::evict(0);
    pdf.map_err(|diags| PdfError::Layout(describe(diags.as_slice())))
}

fn describe(diags: &[SourceDiagnostic]) -> String {
    diags.iter().map(|d| d.message.to_string()).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use openwatch_core::eval::{Evidence, Status};
    use openwatch_core::exceptions::{Date, Excepted};
    use openwatch_core::export::summary::{self, Scope, TrendPoint};
    use openwatch_core::report::{HostFacts, HostInfo, RuleResult, ScanReport, Stats};
    use openwatch_core::rule::{References, Severity};

    fn result(id: &str, title: &str, verdict: Status) -> RuleResult {
        let references = References { nist_800_53: vec!["AC-7".to_owned()], ..References::default() };
        RuleResult {
            rule_id: id.to_owned(),
            title: title.to_owned(),
            severity: Severity::High,
            verdict,
            reason: "MaxAuthTries is 10".to_owned(),
            implementation: None,
            references,
            evidence: vec![Evidence {
                method: "config_value".to_owned(),
                source: "/etc/ssh/sshd_config".to_owned(),
                expected: "<= 4".to_owned(),
                actual: "10".to_owned(),
                observed: String::new(),
                truncated: false,
                collected_at: String::new(),
            }],
            exception: None,
        }
    }

    /// Markup in the data is shown as text: a title that is typst code neither runs nor
    /// breaks the layout.
    #[test]
    fn data_is_never_markup() {
        let hostile = "#set page(width: 1pt) ] } $x$ <label> @ref *bold* // comment";
        let mut accepted = result("b_rule", "Accepted one", Status::Excepted);
        accepted.exception = Some(Excepted {
            id: "EX-1".to_owned(),
            justification: "legacy <jump> host & tooling".to_owned(),
            expires: Date::parse("2999-12-31").unwrap(),
        });
        let info = HostInfo::new("web-1".to_owned(), "192.0.2.7:22".to_owned(), &HostFacts::default());
        let report = ScanReport::new(
            info,
            "2026-12-01T10:00:00Z".to_owned(),
            "2026-12-01T10:00:05Z".to_owned(),
            Stats::default(),
            vec![result("a_rule", hostile, Status::Fail), accepted, result("c_rule", "Fine", Status::Pass)],
        );
        let trend = vec![
            TrendPoint::new("2026-11-30".to_owned(), 1, 2, 0, 0),
            TrendPoint::new("2026-12-01".to_owned(), 1, 1, 1, 0),
        ];
        let sum = summary::build(&[report], &[], "test", Scope { trend, ..Scope::default() });
        let pdf = super::render(&sum).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        // Rendering again gives the same bytes: no date, no randomness.
        assert_eq!(super::render(&sum).unwrap(), pdf);
    }

    /// Many hosts are laid out in parts and joined: every host's page is there, in order,
    /// under one page tree.
    #[test]
    fn large_reports_are_joined_from_parts() {
        let hosts = super::HOSTS_PER_PART * 2 + 3;
        let reports: Vec<ScanReport> = (0..hosts)
            .map(|i| {
                let info = HostInfo::new(format!("host-{i:03}"), String::new(), &HostFacts::default());
                let results =
                    vec![result("a_rule", "Failing", Status::Fail), result("c_rule", "Fine", Status::Pass)];
                ScanReport::new(
                    info,
                    "2026-12-01T10:00:00Z".to_owned(),
                    "2026-12-01T10:00:05Z".to_owned(),
                    Stats::default(),
                    results,
                )
            })
            .collect();
        let sum = summary::build(&reports, &[], "test", Scope::default());
        let pdf = super::render(&sum).unwrap();
        let doc = lopdf::Document::load_mem(&pdf).unwrap();
        let pages = doc.get_pages();
        // The summary (a page or two), then a page per host.
        assert!(pages.len() > hosts && pages.len() <= hosts + 3, "{} pages", pages.len());
        // Poppler (installed by scripts/install-test-deps) reads the joined file: the last
        // page is the last host's, numbered on from the parts before.
        let file = std::env::temp_dir().join(format!("openwatch-joined-{}.pdf", std::process::id()));
        std::fs::write(&file, &pdf).unwrap();
        let last = pages.len().to_string();
        let out = std::process::Command::new("pdftotext")
            .args(["-f", &last, "-l", &last])
            .arg(&file)
            .arg("-")
            .output();
        std::fs::remove_file(&file).unwrap();
        let text = String::from_utf8_lossy(&out.expect("pdftotext (poppler-utils)").stdout).into_owned();
        assert!(
            text.contains(&format!("host-{:03}", hosts - 1)) && text.contains(&format!("page {last}")),
            "{text}"
        );
        let text = doc.extract_text(&[*pages.keys().last().unwrap()]).unwrap_or_default();
        assert!(
            text.contains(&format!("host-{:03}", hosts - 1)) || text.is_empty(),
            "the last host last: {text}"
        );
    }
}
