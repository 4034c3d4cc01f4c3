//! The HTML report and `faultline serve`, as a person sees them: pages are
//! loaded in headless Chromium and the rendered DOM must hold the figures
//! and the counterexample; a screenshot must come out. A machine without
//! Chromium fails these tests, saying how to install it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .expect("run faultline")
}

fn fixture(name: &str) -> String {
    format!("{}/histories/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The Chromium binary; fails the test loudly when there is none.
fn chromium() -> PathBuf {
    if let Ok(p) = std::env::var("FAULTLINE_CHROMIUM") {
        return PathBuf::from(p);
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::var("PATH").unwrap_or_default().split(':') {
            let p = Path::new(dir).join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "headless Chromium is needed for the report browser tests and was not found on PATH \
         (Debian: apt-get install chromium; scripts/test.sh installs it; or set FAULTLINE_CHROMIUM)"
    );
}

/// Runs headless Chromium with `args` then `url`, with its own profile
/// directory, and gives up after a minute.
fn browse(extra: &[&str], url: &str) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let mut out = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait chromium").is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 60 s on {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().expect("read chromium output")
}

fn dump_dom(url: &str) -> String {
    let dom = browse(&["--dump-dom"], url);
    assert!(
        dom.contains("</html>"),
        "chromium returned no DOM for {url}: {dom}"
    );
    dom
}

fn file_url(p: &Path) -> String {
    format!("file://{}", p.canonicalize().expect("canonical").display())
}

fn report(args: &[&str], out: &Path) -> (i32, String) {
    let mut a = vec!["report"];
    a.extend_from_slice(args);
    let out_s = out.display().to_string();
    a.extend_from_slice(&["-o", &out_s]);
    let o = faultline(&a);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn a_timed_history_with_faults_renders_every_figure() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("report.html");
    let (code, err) = report(
        &[
            &fixture("report-register-partition.jsonl"),
            "--model",
            "register",
            "--checker",
            "linearizable,stale-read",
        ],
        &out,
    );
    // The exit code is the verdict's, as for `check`.
    assert_eq!(code, 1, "{err}");
    let html = std::fs::read_to_string(&out).expect("report written");
    assert!(!html.contains("<script"), "the report needs no script");
    assert!(!html.contains(" src="), "the report loads nothing");

    let dom = dump_dom(&file_url(&out));
    assert!(dom.contains(r#"<span id="verdict" class="badge invalid">INVALID</span>"#));
    // The timeline: one bar per operation (8) coloured by outcome, the
    // partition as a band, hover text for the op.
    let timeline = section(&dom, "timeline");
    assert!(timeline.contains("<svg class=\"timeline\""), "{timeline}");
    assert_eq!(timeline.matches("<rect class=\"ok\"").count(), 6);
    assert_eq!(timeline.matches("<rect class=\"fail\"").count(), 1);
    assert_eq!(timeline.matches("<rect class=\"info\"").count(), 1);
    assert_eq!(
        timeline.matches("<rect class=\"band partition\"").count(),
        1
    );
    assert!(timeline.contains("process 2 read → ok 1 on n3, 5.0 ms, line 9"));
    // Latency and throughput are plotters SVGs with their legends and the
    // fault shading.
    let latency = section(&dom, "latency");
    assert!(latency.contains("<svg"), "{latency}");
    for label in ["p50", "p95", "p99", "partition", "latency (ms, log)"] {
        assert!(latency.contains(label), "latency chart lacks {label}");
    }
    let throughput = section(&dom, "throughput");
    assert!(throughput.contains("<svg"));
    assert!(throughput.contains("completions per second"));
    assert!(throughput.contains("write ok"));
    // Stale reads by node, with the node's row.
    let stale = section(&dom, "stale-reads");
    assert!(stale.contains("<svg"), "{stale}");
    assert!(stale.contains("<b>n3</b>"));
    // The linearizability counterexample: the graph checker's cycle, its
    // operations drawn.
    let lin = section(&dom, "counterexample");
    assert!(lin.contains("cycle between the writes of 2 and 1"), "{lin}");
    assert!(lin.contains("<svg class=\"lin\""));
    assert!(
        lin.matches("<g class=\"lin-culprit\"").count() >= 3,
        "{lin}"
    );

    // And a screenshot comes out of it.
    let png = dir.path().join("shot.png");
    browse(
        &[
            "--window-size=1200,2400",
            &format!("--screenshot={}", png.display()),
        ],
        &file_url(&out),
    );
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
    assert!(bytes.len() > 20_000, "screenshot is {} bytes", bytes.len());
}

/// The HTML of the `<section id=...>`, from the DOM chromium returned.
fn section<'a>(dom: &'a str, id: &str) -> &'a str {
    let open = format!("<section id=\"{id}\">");
    let start = dom
        .find(&open)
        .unwrap_or_else(|| panic!("no section {id} in the DOM"));
    let end = dom[start..]
        .find("</section>")
        .map_or(dom.len(), |e| start + e);
    &dom[start..end]
}

#[test]
fn the_search_counterexample_is_drawn_with_prefix_and_states() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("cas.html");
    let (code, err) = report(
        &[
            &fixture("cas-register-invalid.edn"),
            "--model",
            "cas-register",
        ],
        &out,
    );
    assert_eq!(code, 1, "{err}");
    let dom = dump_dom(&file_url(&out));
    let lin = section(&dom, "counterexample");
    assert!(lin.contains("cannot be linearized"), "{lin}");
    assert_eq!(lin.matches("<g class=\"lin-culprit\"").count(), 1, "{lin}");
    assert!(lin.contains("<g class=\"lin-prefix\""), "{lin}");
    assert!(lin.contains("The longest linearizable prefix has"));
    assert!(lin.contains("<code class=\"state\">"), "{lin}");
    // Untimed: no latency chart, and the page says why.
    assert!(section(&dom, "latency").contains("no timestamps"));
}

#[test]
fn elle_cycles_are_graphs_with_labelled_edges() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("elle.html");
    let (code, err) = report(&[&fixture("elle-la-g-single.jsonl")], &out);
    assert_eq!(code, 1, "{err}");
    let dom = dump_dom(&file_url(&out));
    let elle = section(&dom, "elle");
    assert!(elle.contains("<svg class=\"cycle\""), "{elle}");
    assert_eq!(elle.matches("<g class=\"edge\">").count(), 2);
    assert_eq!(elle.matches("<g class=\"txn\">").count(), 2);
    assert!(elle.contains(">rw</text>") && elle.contains(">wr</text>"));
    assert!(elle.contains("missing T4's append of 2"));
}

#[test]
fn report_rejects_bad_requests_with_254() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("r.html");
    let (code, err) = report(
        &[
            &fixture("register-valid.jsonl"),
            &fixture("register-invalid.jsonl"),
        ],
        &out,
    );
    assert_eq!(code, 254);
    assert!(err.contains("exactly one history"), "{err}");
    let (code, err) = report(&[&fixture("bad-json.jsonl")], &out);
    assert_eq!(code, 254);
    assert!(err.contains("bad-json.jsonl:2:"), "{err}");
    assert!(!out.exists(), "no report for an unreadable history");
    let nowhere = dir.path().join("missing-dir/r.html");
    let (code, err) = report(&[&fixture("register-valid.jsonl")], &nowhere);
    assert_eq!(code, 254);
    assert!(err.contains("missing-dir/r.html: cannot write"), "{err}");
}

#[test]
fn every_test_run_writes_a_report_beside_its_history() {
    let dir = tempfile::tempdir().expect("temp dir");
    let runs = dir.path().display().to_string();
    let o = faultline(&[
        "test",
        &format!(
            "{}/workloads/sim-read-local.toml",
            env!("CARGO_MANIFEST_DIR")
        ),
        "--time-limit",
        "1.5",
        "--runs-dir",
        &runs,
    ]);
    let code = o.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let run = std::fs::read_dir(dir.path().join("sim-read-local"))
        .expect("run dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("history.jsonl").is_file())
        .expect("a run directory with history.jsonl");
    let html = std::fs::read_to_string(run.join("report.html")).expect("report.html");
    assert!(
        html.contains("<h1>sim-read-local "),
        "title is the workload"
    );
    assert!(html.contains("read-local"), "strategy shown");
    assert!(html.contains("<svg class=\"timeline\""));
    let verdict = if code == 0 { "VALID" } else { "INVALID" };
    assert!(html.contains(&format!(">{verdict}</span>")));
}

/// A raw HTTP/1.0 request, so the path reaches the server unnormalised.
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").expect("send");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[test]
fn serve_lists_runs_and_serves_only_inside_the_runs_dir() {
    let dir = tempfile::tempdir().expect("temp dir");
    let runs = dir.path().join("runs");
    let run = runs.join("sim-x/20260101T000000.000Z");
    std::fs::create_dir_all(&run).expect("mkdir");
    std::fs::write(
        run.join("results.json"),
        r#"{"workload":"sim-x","verdict":"invalid","stats":{"ops":1234,"faults":5}}"#,
    )
    .expect("write");
    let (code, err) = report(
        &[
            &fixture("report-register-partition.jsonl"),
            "--model",
            "register",
        ],
        &run.join("report.html"),
    );
    assert_eq!(code, 1, "{err}");
    std::fs::write(dir.path().join("secret.txt"), "do not serve").expect("write");
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), run.join("leak.txt"))
        .expect("symlink");

    let server =
        faultline::serve::start(&runs, "127.0.0.1:0".parse().expect("addr")).expect("start server");
    let addr = server.addr();
    assert!(addr.ip().is_loopback());

    let index = dump_dom(&format!("http://{addr}/"));
    assert!(index.contains("sim-x/20260101T000000.000Z"), "{index}");
    assert!(index.contains(r#"<span class="badge invalid">invalid</span>"#));
    assert!(index.contains("<td>1234</td>") && index.contains("<td>5</td>"));
    assert!(index.contains(r#"href="/sim-x/20260101T000000.000Z/report.html""#));

    let page = dump_dom(&format!(
        "http://{addr}/sim-x/20260101T000000.000Z/report.html"
    ));
    assert!(section(&page, "timeline").contains("<svg class=\"timeline\""));

    let (status, body) = get(addr, "/sim-x/20260101T000000.000Z/results.json");
    assert_eq!(status, 200);
    assert!(body.contains("application/json") && body.contains("\"ops\":1234"));
    for bad in [
        "/../secret.txt",
        "/sim-x/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/sim-x/20260101T000000.000Z/leak.txt",
        &format!("/{}", dir.path().join("secret.txt").display()),
    ] {
        let (status, body) = get(addr, bad);
        assert_eq!(status, 403, "{bad}: {body}");
        assert!(!body.contains("do not serve"), "{bad} leaked the file");
    }
    assert_eq!(get(addr, "/nothing-here").0, 404);
    server.stop();
}
