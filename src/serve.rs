//! `faultline serve`: a small web server over a runs directory, so that the
//! reports of many runs can be browsed from one page.
//!
//! `/` lists the runs (every directory holding a `results.json` or a
//! `history.jsonl`, up to three levels down), newest first, with their
//! verdict, operation and fault counts, and links to each report and file.
//! Any other path is a file or directory inside the runs directory.
//!
//! It binds 127.0.0.1 unless told otherwise, and it serves nothing outside
//! the runs directory: a request path must be absolute (`/…`), is decoded
//! once, and is refused when a component is `..` or `.`, when it holds a
//! backslash or a NUL, when it starts with `//`, or when the file it names
//! resolves (symlinks followed) to a place outside the canonical runs
//! directory. The walk that finds runs never follows symlinks, so
//! `runs/latest` does not list a run twice.
//!
//! The server runs on its own thread ([`start`]) with `tiny_http`; the
//! command line blocks on it, tests stop it.

use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

/// What a request path names.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// `/`: the list of runs.
    Index,
    File(PathBuf),
    Dir(PathBuf),
}

/// Why a request is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 404: nothing there.
    NotFound,
    /// 403: the path tries to leave the runs directory, or is malformed.
    Forbidden(&'static str),
}

/// Percent-decoding of a URL path; `None` for a bad escape.
fn decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Percent-encoding of one path component (RFC 3986 unreserved kept).
pub fn encode(component: &str) -> String {
    let mut out = String::new();
    for b in component.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Maps a request target to a place inside `root`, or refuses it.
pub fn resolve(root: &Path, target: &str) -> Result<Target, Refusal> {
    let path = target.split(['?', '#']).next().unwrap_or("");
    let Some(rest) = path.strip_prefix('/') else {
        return Err(Refusal::Forbidden("the path must start with /"));
    };
    let decoded = decode(rest).ok_or(Refusal::Forbidden("bad percent-escape"))?;
    let rest = String::from_utf8(decoded).map_err(|_| Refusal::Forbidden("not UTF-8"))?;
    if rest.is_empty() {
        return Ok(Target::Index);
    }
    if rest.starts_with('/') {
        return Err(Refusal::Forbidden("absolute paths are not served"));
    }
    if rest.contains('\\') || rest.contains('\0') {
        return Err(Refusal::Forbidden("backslash or NUL in the path"));
    }
    let rel = rest.strip_suffix('/').unwrap_or(&rest);
    for part in rel.split('/') {
        match part {
            ".." => return Err(Refusal::Forbidden("`..` is not served")),
            "." | "" => return Err(Refusal::Forbidden("empty or `.` path component")),
            _ => {}
        }
    }
    let root = root.canonicalize().map_err(|_| Refusal::NotFound)?;
    let real = root
        .join(rel)
        .canonicalize()
        .map_err(|_| Refusal::NotFound)?;
    if !real.starts_with(&root) {
        return Err(Refusal::Forbidden("it leads outside the runs directory"));
    }
    if real.is_dir() {
        Ok(Target::Dir(real))
    } else {
        Ok(Target::File(real))
    }
}

/// One run found under the runs directory.
#[derive(Clone, Debug)]
pub struct Run {
    /// Path relative to the runs directory, with `/`.
    pub rel: String,
    pub time: SystemTime,
    pub workload: Option<String>,
    pub verdict: Option<String>,
    pub ops: Option<u64>,
    pub faults: Option<u64>,
    /// File names in the run directory (sorted).
    pub files: Vec<String>,
}

/// Every run under `root`, newest first.
pub fn find_runs(root: &Path) -> Vec<Run> {
    let mut runs = Vec::new();
    walk(root, root, 0, &mut runs);
    runs.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| b.rel.cmp(&a.rel)));
    runs
}

fn walk(root: &Path, dir: &Path, depth: usize, runs: &mut Vec<Run>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for e in entries.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        let name = e.file_name().to_string_lossy().into_owned();
        if ft.is_dir() {
            dirs.push(e.path());
        } else if ft.is_file() {
            files.push(name);
        }
    }
    if files
        .iter()
        .any(|f| f == "results.json" || f == "history.jsonl")
    {
        files.sort();
        runs.push(read_run(root, dir, files));
    }
    if depth < 3 {
        for d in dirs {
            walk(root, &d, depth + 1, runs);
        }
    }
}

fn read_run(root: &Path, dir: &Path, files: Vec<String>) -> Run {
    let rel = dir
        .strip_prefix(root)
        .unwrap_or(dir)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");
    let results: Option<Value> = std::fs::read(dir.join("results.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let stamp_file = if files.iter().any(|f| f == "results.json") {
        "results.json"
    } else {
        "history.jsonl"
    };
    let time = std::fs::metadata(dir.join(stamp_file))
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let get = |k: &str| results.as_ref().and_then(|r| r.get(k));
    let stat = |k: &str| get("stats").and_then(|s| s.get(k)).and_then(|v| v.as_u64());
    Run {
        rel,
        time,
        workload: get("workload").and_then(|v| v.as_str()).map(String::from),
        verdict: get("verdict").and_then(|v| v.as_str()).map(String::from),
        ops: stat("ops"),
        faults: stat("faults"),
        files,
    }
}

fn href(rel: &str) -> String {
    let parts: Vec<String> = rel.split('/').map(encode).collect();
    format!("/{}", parts.join("/"))
}

const CSS: &str = r#"
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1160px;padding:12px 20px;color:#222}
table{border-collapse:collapse}td,th{padding:4px 12px 4px 4px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
.badge{display:inline-block;padding:1px 8px;border-radius:4px;color:#fff;font-weight:600;font-size:.85em}
.badge.valid{background:#2e9d4f}.badge.invalid{background:#c9302c}.badge.unknown,.badge.none{background:#8a6d3b}
a{color:#1f6fb4}.files a{margin-right:8px;font-size:.9em}.note{color:#666;font-style:italic}
"#;

/// The list of runs.
pub fn index_page(root: &Path) -> Markup {
    let runs = find_runs(root);
    html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { "faultline runs" } style { (PreEscaped(CSS)) } }
            body {
                h1 { "faultline runs" }
                p.note { (root.display()) ": " (runs.len()) " run" @if runs.len() != 1 { "s" } ", newest first." }
                table id="runs" {
                    tr { th { "run" } th { "time (UTC)" } th { "verdict" } th { "ops" } th { "faults" } th { "files" } }
                    @for r in &runs {
                        tr.run {
                            td {
                                @if r.files.iter().any(|f| f == "report.html") {
                                    a.report href=(href(&format!("{}/report.html", r.rel))) { (r.rel) }
                                } @else {
                                    a href=(format!("{}/", href(&r.rel))) { (r.rel) }
                                }
                                @if let Some(w) = &r.workload { br; span.note { (w) } }
                            }
                            td { (crate::runner::utc_stamp(r.time)) }
                            td {
                                @let v = r.verdict.as_deref().unwrap_or("none");
                                span class=(format!("badge {v}")) { (v) }
                            }
                            td { @if let Some(n) = r.ops { (n) } }
                            td { @if let Some(n) = r.faults { (n) } }
                            td.files {
                                @for f in &r.files {
                                    a href=(href(&format!("{}/{f}", r.rel))) { (f) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn dir_page(root: &Path, dir: &Path) -> Markup {
    let rel = dir
        .strip_prefix(root.canonicalize().unwrap_or_else(|_| root.to_path_buf()))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut entries: Vec<(String, bool)> = std::fs::read_dir(dir)
        .map(|it| {
            it.flatten()
                .map(|e| {
                    let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
                    (e.file_name().to_string_lossy().into_owned(), is_dir)
                })
                .collect()
        })
        .unwrap_or_default();
    entries.sort();
    html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { (rel) } style { (PreEscaped(CSS)) } }
            body {
                p { a href="/" { "all runs" } }
                h1 { (rel) }
                ul {
                    @for (name, is_dir) in &entries {
                        @let link = href(&format!("{rel}/{name}"));
                        li { a href=(if *is_dir { format!("{link}/") } else { link }) { (name) @if *is_dir { "/" } } }
                    }
                }
            }
        }
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "css" => "text/css",
        "xml" => "application/xml",
        _ => "text/plain; charset=utf-8",
    }
}

/// A running server; [`Server::stop`] ends it.
pub struct Server {
    addr: SocketAddr,
    http: Arc<tiny_http::Server>,
    stopping: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Server {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// Blocks until the server thread ends (it does not on its own).
    pub fn join(self) {
        let _ = self.thread.join();
    }
    pub fn stop(self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.http.unblock();
        let _ = self.thread.join();
    }
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}: not a directory")]
    NotADir(String),
    #[error("cannot listen on {addr}: {message}")]
    Bind { addr: SocketAddr, message: String },
}

/// Serves `root` on `addr` (port 0 picks a free port) from a new thread.
pub fn start(root: &Path, addr: SocketAddr) -> Result<Server, ServeError> {
    if !root.is_dir() {
        return Err(ServeError::NotADir(root.display().to_string()));
    }
    let http = tiny_http::Server::http(addr).map_err(|e| ServeError::Bind {
        addr,
        message: e.to_string(),
    })?;
    let bound = http.server_addr().to_ip().unwrap_or(addr);
    let http = Arc::new(http);
    let stopping = Arc::new(AtomicBool::new(false));
    let thread = {
        let (http, stopping, root) = (http.clone(), stopping.clone(), root.to_path_buf());
        std::thread::spawn(move || loop {
            match http.recv() {
                Ok(rq) => respond(&root, rq),
                Err(_) if stopping.load(Ordering::SeqCst) => return,
                Err(_) => continue,
            }
        })
    };
    Ok(Server {
        addr: bound,
        http,
        stopping,
        thread,
    })
}

fn header(name: &str, value: &str) -> Option<tiny_http::Header> {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

fn respond(root: &Path, rq: tiny_http::Request) {
    use tiny_http::Response;
    let html = |m: Markup, code: u16| {
        let mut r = Response::from_string(m.into_string()).with_status_code(code);
        if let Some(h) = header("Content-Type", "text/html; charset=utf-8") {
            r.add_header(h);
        }
        r
    };
    let text = |s: String, code: u16| Response::from_string(s).with_status_code(code);
    if !matches!(
        rq.method(),
        tiny_http::Method::Get | tiny_http::Method::Head
    ) {
        let _ = rq.respond(text("only GET is served\n".into(), 405));
        return;
    }
    let result = match resolve(root, rq.url()) {
        Ok(Target::Index) => rq.respond(html(index_page(root), 200)),
        Ok(Target::Dir(d)) => rq.respond(html(dir_page(root, &d), 200)),
        Ok(Target::File(f)) => match std::fs::File::open(&f) {
            Ok(file) => {
                let mut r = Response::from_file(file);
                if let Some(h) = header("Content-Type", content_type(&f)) {
                    r.add_header(h);
                }
                rq.respond(r)
            }
            Err(_) => rq.respond(text("not found\n".into(), 404)),
        },
        Err(Refusal::NotFound) => rq.respond(text("not found\n".into(), 404)),
        Err(Refusal::Forbidden(why)) => rq.respond(text(format!("forbidden: {why}\n"), 403)),
    };
    if let Err(e) = result {
        tracing::debug!("serve: cannot answer: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_root() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("runs");
        std::fs::create_dir_all(root.join("a/1")).expect("mkdir");
        std::fs::write(root.join("a/1/report.html"), "x").expect("write");
        std::fs::write(dir.path().join("secret"), "s").expect("write");
        let real = |p: &str| root.join(p).canonicalize().expect("canonical");
        assert_eq!(resolve(&root, "/"), Ok(Target::Index));
        assert_eq!(
            resolve(&root, "/a/1/report.html?x=1"),
            Ok(Target::File(real("a/1/report.html")))
        );
        assert_eq!(resolve(&root, "/a/1/"), Ok(Target::Dir(real("a/1"))));
        assert_eq!(
            resolve(&root, "/a/%31/report.html"),
            Ok(Target::File(real("a/1/report.html")))
        );
        for bad in [
            "/../secret",
            "/a/../../secret",
            "/a/%2e%2e/%2E%2E/secret",
            "/a/..%2f..%2fsecret",
            "//etc/passwd",
            "/%2fetc/passwd",
            "/a\\..\\secret",
            "/a/./1",
            "/a//1",
            "/%zz",
            "etc/passwd",
            "http://x/secret",
        ] {
            assert!(
                matches!(resolve(&root, bad), Err(Refusal::Forbidden(_))),
                "{bad} must be refused, got {:?}",
                resolve(&root, bad)
            );
        }
        assert_eq!(resolve(&root, "/nope"), Err(Refusal::NotFound));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_out_of_the_root_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("runs");
        std::fs::create_dir_all(root.join("r")).expect("mkdir");
        std::fs::write(dir.path().join("secret"), "s").expect("write");
        std::os::unix::fs::symlink(dir.path().join("secret"), root.join("r/leak"))
            .expect("symlink");
        std::os::unix::fs::symlink(dir.path(), root.join("up")).expect("symlink");
        std::os::unix::fs::symlink(root.join("r"), root.join("latest")).expect("symlink");
        assert!(matches!(
            resolve(&root, "/r/leak"),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            resolve(&root, "/up/secret"),
            Err(Refusal::Forbidden(_))
        ));
        // A symlink that stays inside is fine.
        assert!(matches!(resolve(&root, "/latest/"), Ok(Target::Dir(_))));
    }

    #[test]
    fn runs_are_listed_newest_first_without_following_symlinks() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        for (name, verdict) in [
            ("w/20260101T000000.000Z", "valid"),
            ("w/20260102T000000.000Z", "invalid"),
        ] {
            std::fs::create_dir_all(root.join(name)).expect("mkdir");
            std::fs::write(
                root.join(name).join("results.json"),
                format!(
                    r#"{{"workload":"w","verdict":"{verdict}","stats":{{"ops":10,"faults":2}}}}"#
                ),
            )
            .expect("write");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink(root.join("w/20260102T000000.000Z"), root.join("latest"))
            .expect("symlink");
        let runs = find_runs(root);
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].rel, "w/20260102T000000.000Z");
        assert_eq!(runs[0].verdict.as_deref(), Some("invalid"));
        assert_eq!(runs[0].ops, Some(10));
        assert_eq!(runs[1].verdict.as_deref(), Some("valid"));
    }
}
