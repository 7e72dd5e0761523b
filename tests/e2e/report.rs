//! Plots and `report.html` through the `meshsim` binary: every PNG decodes and is not blank,
//! every SVG is XML with a title, the report loads nothing from outside and escapes the
//! scenario's names, `meshsim plot DIR` gives the same bytes again from the CSV files, and the
//! report opens in real headless Chromium without console errors or network requests (driven
//! over the DevTools protocol on a pipe). Where `/usr/bin/chromium` is missing the Chromium
//! checks fail under CI and otherwise print a SKIPPED banner that `cargo test` shows
//! (`common::require_component`); `.ci/run` installs it.

use crate::common::{meshsim, require_component, temp_dir, write_file};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A small scenario with two faults and names full of HTML's special characters.
const SCENARIO: &str = r#"[scenario]
name = "report <&> \"test\""
seed = 11
duration = "6s"
warmup = "1s"

[network]
latency = "const(0.25ms)"

[[service]]
name = "front<b>&'x'"
replicas = 2
workers = 8
service_time = "exp(1ms)"
calls = ["back"]

[[service]]
name = "back"
replicas = 3
workers = 4
service_time = "exp(1ms)"

[[workload]]
name = "load"
target = "front<b>&'x'"
rate = 300

[[fault]]
at = "2s"
for = "2s"
kind = "crash"
target = "back#0"

[[fault]]
at = "3s"
for = "1500ms"
kind = "slow"
factor = 5
target = "back#1"
"#;

/// The plot files a run writes.
const RUN_PLOTS: [&str; 4] = ["latency", "availability", "replicas", "cdf"];

fn arg(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

fn check_status(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({:?}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs the scenario into a fresh folder; returns the folder.
fn run_report(name: &str) -> PathBuf {
    let dir = temp_dir(name);
    let file = write_file(&dir, "scenario.toml", SCENARIO.as_bytes());
    let out = dir.join("report");
    let output = meshsim(&["run", arg(&file), "--out", arg(&out)]);
    check_status(&output, "meshsim run");
    // Not a terminal: no progress bar, nothing on standard error.
    assert!(
        output.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// Decodes a PNG; returns (width, height, distinct colours, share of non-white pixels).
fn png_stats(bytes: &[u8]) -> (u32, u32, usize, f64) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a frame size")];
    let info = reader.next_frame(&mut pixels).expect("a PNG frame");
    let channels = info.color_type.samples();
    let mut colours = std::collections::BTreeSet::new();
    let mut ink = 0usize;
    let count = (info.width * info.height) as usize;
    for pixel in pixels[..count * channels].chunks(channels) {
        colours.insert(pixel.to_vec());
        if pixel.iter().take(3).any(|&c| c < 250) {
            ink += 1;
        }
    }
    (
        info.width,
        info.height,
        colours.len(),
        ink as f64 / count as f64,
    )
}

/// Checks a PNG: decodes, has a sensible size, is not blank.
fn check_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (width, height, colours, ink) = png_stats(&bytes);
    assert!(
        width >= 600 && height >= 300,
        "{}: {width}x{height}",
        path.display()
    );
    assert!(colours > 8, "{}: only {colours} colours", path.display());
    assert!(
        ink > 0.02 && ink < 0.95,
        "{}: {:.1}% of the pixels are not white",
        path.display(),
        ink * 100.0
    );
}

/// Checks an SVG: parses as XML, is an `<svg>` with a non-empty `<title>` that is also drawn
/// as text, and draws shapes.
fn check_svg(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let document = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("{} is not XML: {e}", path.display()));
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "svg", "{}", path.display());
    let title = root
        .children()
        .find(|n| n.has_tag_name("title"))
        .and_then(|n| n.text())
        .unwrap_or_else(|| panic!("{} has no <title>", path.display()))
        .trim()
        .to_string();
    assert!(!title.is_empty(), "{}: empty title", path.display());
    let texts: Vec<String> = root
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(|t| t.trim().to_string())
        .collect();
    assert!(
        texts.contains(&title),
        "{}: the title {title:?} is not drawn",
        path.display()
    );
    let shapes = root
        .descendants()
        .filter(|n| n.has_tag_name("polyline") || n.has_tag_name("rect"))
        .count();
    assert!(shapes > 10, "{}: {shapes} shapes", path.display());
    title
}

/// Checks that `report.html` is self-contained: nothing fetched, no script.
fn check_self_contained(html: &str) {
    for forbidden in [
        "http://", "https://", "src=", "<script", "url(", "@import", "<iframe", "<object", "<embed",
    ] {
        assert!(
            !html.contains(forbidden),
            "report.html contains {forbidden:?}"
        );
    }
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains("Content-Security-Policy"),
        "no policy forbidding loads"
    );
}

#[test]
fn a_run_writes_plots_and_a_self_contained_report() {
    let out = run_report("plots");
    for name in RUN_PLOTS {
        check_png(&out.join(format!("{name}.png")));
        check_svg(&out.join(format!("{name}.svg")));
    }
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    check_self_contained(&html);
    // Every plot inline, once.
    assert_eq!(
        html.matches("<svg").count(),
        RUN_PLOTS.len() + 1,
        "inline SVG plots and the topology diagram"
    );
    // Names are escaped everywhere: the raw names never appear.
    assert!(!html.contains("front<b>"), "an unescaped service name");
    assert!(!html.contains("<&>"), "an unescaped scenario name");
    assert!(
        html.contains("front&lt;b&gt;&amp;&#39;x&#39;"),
        "the escaped service name is missing"
    );
    assert!(
        html.contains("report &lt;&amp;&gt; &quot;test&quot;"),
        "the escaped scenario name is missing"
    );
    // The event timeline lists both faults with their times.
    for needle in [
        "Event timeline",
        "fault_start",
        "fault_end",
        "back#0",
        "slow factor=5",
        "back#1",
    ] {
        assert!(html.contains(needle), "report.html lacks {needle:?}");
    }
    // Names drawn into SVG text are escaped by the SVG writer: the documents parsed above.
    let replicas = std::fs::read_to_string(out.join("replicas.svg")).unwrap();
    assert!(
        replicas.contains("front&lt;b&gt;&amp;&apos;x&apos;"),
        "service name in replicas.svg"
    );
}

#[test]
fn plot_regenerates_the_same_bytes_from_the_csv_files() {
    let out = run_report("replot");
    let mut first: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut generated: Vec<String> = RUN_PLOTS
        .iter()
        .flat_map(|n| [format!("{n}.svg"), format!("{n}.png")])
        .collect();
    generated.push("report.html".into());
    for name in &generated {
        first.insert(name.clone(), std::fs::read(out.join(name)).expect(name));
        std::fs::remove_file(out.join(name)).expect("remove");
    }
    let output = meshsim(&["plot", arg(&out)]);
    check_status(&output, "meshsim plot");
    for name in &generated {
        let again =
            std::fs::read(out.join(name)).unwrap_or_else(|_| panic!("plot did not write {name}"));
        assert!(
            again == first[name],
            "{name} differs when re-rendered from the CSV files"
        );
    }
    // No temporary file is left behind.
    let leftovers: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn plot_refuses_a_folder_that_is_not_a_run() {
    let dir = temp_dir("not-a-run");
    write_file(&dir, "notes.txt", b"hello");
    let output = meshsim(&["plot", arg(&dir)]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is not a run folder") && stderr.contains("summary.json"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let output = meshsim(&["plot", arg(&dir.join("missing"))]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not a folder"));
    // Nothing was written into the folder.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
}

#[test]
fn a_comparison_writes_plots_and_a_report_that_plot_redraws() {
    let dir = temp_dir("compare-report");
    let file = write_file(&dir, "scenario.toml", SCENARIO.as_bytes());
    let out = dir.join("compare");
    let output = meshsim(&[
        "compare",
        arg(&file),
        "--vary",
        "policy.balancer=round_robin,p2c",
        "--replications",
        "2",
        "--out",
        arg(&out),
        "--quiet",
    ]);
    check_status(&output, "meshsim compare");
    assert!(
        output.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut generated = Vec::new();
    for name in ["comparison", "cdf"] {
        check_png(&out.join(format!("{name}.png")));
        check_svg(&out.join(format!("{name}.svg")));
        generated.extend([format!("{name}.svg"), format!("{name}.png")]);
    }
    generated.push("report.html".into());
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    check_self_contained(&html);
    assert_eq!(html.matches("<svg").count(), 2, "inline SVG plots");
    assert!(!html.contains("<&>"), "an unescaped scenario name");
    for needle in [
        "report &lt;&amp;&gt; &quot;test&quot;: comparison",
        "round_robin <b>(baseline)</b>",
        "p2c",
        "p99 latency",
        "Replications",
    ] {
        assert!(html.contains(needle), "report.html lacks {needle:?}");
    }
    // The CDF has a line per variant, named in its legend.
    let cdf = std::fs::read_to_string(out.join("cdf.svg")).unwrap();
    assert!(
        cdf.contains("1 round_robin") && cdf.contains("2 p2c"),
        "cdf.svg legend"
    );
    // `meshsim plot` on the comparison folder draws the same bytes from comparison.json and the
    // latency-<variant>.csv files.
    let first: Vec<Vec<u8>> = generated
        .iter()
        .map(|n| std::fs::read(out.join(n)).expect("written"))
        .collect();
    for name in &generated {
        std::fs::remove_file(out.join(name)).expect("remove");
    }
    check_status(&meshsim(&["plot", arg(&out)]), "meshsim plot (comparison)");
    for (name, bytes) in generated.iter().zip(&first) {
        let again =
            std::fs::read(out.join(name)).unwrap_or_else(|_| panic!("plot did not write {name}"));
        assert!(&again == bytes, "{name} differs when re-rendered");
    }
    if require_chromium("the comparison report opens in headless Chromium").is_some() {
        let visit = visit(&out.join("report.html"), &dir.join("profile"));
        assert!(
            visit.page_requested && visit.problems.is_empty(),
            "{}",
            visit.problems.join("\n")
        );
        let _ = std::fs::remove_dir_all(dir.join("profile"));
    }
}

// ---- headless Chromium over the DevTools protocol ----

const CHROMIUM: &str = "/usr/bin/chromium";

/// Chromium's path, or `None` after a loud skip (a failure under CI): see
/// [`require_component`].
fn require_chromium(test: &str) -> Option<PathBuf> {
    require_component(
        test,
        "Chromium",
        CHROMIUM,
        "`apt-get install chromium`; .ci/run installs it",
    )
}

/// A DevTools-protocol connection to a browser over `--remote-debugging-pipe` (fds 3 and 4,
/// messages separated by NUL bytes).
struct Browser {
    child: std::process::Child,
    to_browser: std::io::PipeWriter,
    from_browser: mpsc::Receiver<Value>,
    next_id: u64,
    /// Events received so far, in order.
    events: Vec<Value>,
}

impl Browser {
    fn launch(profile: &Path) -> Browser {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let (browser_reads, to_browser) = std::io::pipe().expect("pipe");
        let (mut from_browser, browser_writes) = std::io::pipe().expect("pipe");
        let (read_fd, write_fd) = (browser_reads.as_raw_fd(), browser_writes.as_raw_fd());
        let mut command = Command::new(CHROMIUM);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-default-apps",
                "--disable-extensions",
                "--remote-debugging-pipe",
                "--window-size=1280,2400",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: only async-signal-safe calls (fcntl, dup2) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                // Move both ends above 4 first, so that placing one cannot clobber the other.
                let high_read = libc::fcntl(read_fd, libc::F_DUPFD, 10);
                let high_write = libc::fcntl(write_fd, libc::F_DUPFD, 10);
                if high_read < 0
                    || high_write < 0
                    || libc::dup2(high_read, 3) < 0
                    || libc::dup2(high_write, 4) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("chromium starts");
        drop(browser_reads);
        drop(browser_writes);
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buffer = Vec::new();
            let mut chunk = [0u8; 1 << 16];
            loop {
                match from_browser.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                }
                while let Some(end) = buffer.iter().position(|&b| b == 0) {
                    let message: Vec<u8> = buffer.drain(..=end).collect();
                    if let Ok(value) = serde_json::from_slice::<Value>(&message[..end]) {
                        if sender.send(value).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Browser {
            child,
            to_browser,
            from_browser: receiver,
            next_id: 1,
            events: Vec::new(),
        }
    }

    /// Sends a command (to a page session, or to the browser) and waits for its answer.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.to_browser
            .write_all(&bytes)
            .expect("write to chromium");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let reply = self
                .from_browser
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no answer to {method}"));
            if reply.get("id").and_then(Value::as_u64) == Some(id) {
                assert!(reply.get("error").is_none(), "{method}: {reply}");
                return reply["result"].clone();
            }
            self.events.push(reply);
        }
    }

    /// Waits for an event named `method`.
    fn wait_for(&mut self, method: &str) {
        if self.events.iter().any(|e| e["method"] == method) {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = self
                .from_browser
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {method} event"));
            let found = event["method"] == method;
            self.events.push(event);
            if found {
                return;
            }
        }
    }

    /// Collects the events that arrive within `time`.
    fn drain_for(&mut self, time: Duration) {
        let deadline = Instant::now() + time;
        while let Ok(event) = self
            .from_browser
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.events.push(event);
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Decodes standard base64.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|&c| c != b'=' && !c.is_ascii_whitespace())
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for group in digits.chunks(4) {
        let mut bits = 0u32;
        for (i, &c) in group.iter().enumerate() {
            bits |= value(c) << (18 - 6 * i);
        }
        let bytes = [(bits >> 16) as u8, (bits >> 8) as u8, bits as u8];
        out.extend_from_slice(&bytes[..group.len() - 1]);
    }
    out
}

/// What opening a page in headless Chromium showed.
struct PageVisit {
    /// Console errors and warnings, exceptions, failed loads, and requests for anything but
    /// the page itself (or `data:` URLs).
    problems: Vec<String>,
    /// Whether the page's own request was seen (proof that the network events are read).
    page_requested: bool,
    /// The screenshot (PNG).
    screenshot: Vec<u8>,
}

/// Opens `page` in headless Chromium (a fresh profile in `profile`), takes a screenshot and
/// lists what went wrong.
fn visit(page: &Path, profile: &Path) -> PageVisit {
    visit_measuring(page, profile, "null").0
}

/// [`visit`], also evaluating the JavaScript `expression` in the loaded page (1280 px wide)
/// and returning its value.
fn visit_measuring(page: &Path, profile: &Path, expression: &str) -> (PageVisit, Value) {
    let _ = std::fs::remove_dir_all(profile);
    let mut browser = Browser::launch(profile);
    let target = browser.call(None, "Target.createTarget", json!({ "url": "about:blank" }));
    let target_id = target["targetId"]
        .as_str()
        .expect("a target id")
        .to_string();
    let attached = browser.call(
        None,
        "Target.attachToTarget",
        json!({ "targetId": target_id, "flatten": true }),
    );
    let session = attached["sessionId"]
        .as_str()
        .expect("a session id")
        .to_string();
    let session = Some(session.as_str());
    for domain in ["Page", "Runtime", "Log", "Network"] {
        browser.call(session, &format!("{domain}.enable"), json!({}));
    }
    browser.call(
        session,
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": PAGE_WIDTH, "height": 2400, "deviceScaleFactor": 1, "mobile": false }),
    );
    let url = format!(
        "file://{}",
        page.canonicalize().expect("page path").display()
    );
    browser.events.clear();
    browser.call(session, "Page.navigate", json!({ "url": url }));
    browser.wait_for("Page.loadEventFired");
    browser.drain_for(Duration::from_millis(500));
    let shot = browser.call(
        session,
        "Page.captureScreenshot",
        json!({ "format": "png" }),
    );
    let screenshot = base64_decode(shot["data"].as_str().expect("screenshot data"));
    let measured = browser.call(
        session,
        "Runtime.evaluate",
        json!({ "expression": expression, "returnByValue": true }),
    )["result"]["value"]
        .clone();
    browser.drain_for(Duration::from_millis(200));
    let _ = browser.call(None, "Browser.close", json!({}));

    let mut problems = Vec::new();
    let mut page_requested = false;
    for event in &browser.events {
        let params = &event["params"];
        match event["method"].as_str().unwrap_or("") {
            "Runtime.exceptionThrown" => problems.push(format!("exception: {params}")),
            "Runtime.consoleAPICalled"
                if matches!(
                    params["type"].as_str(),
                    Some("error" | "assert" | "warning")
                ) =>
            {
                problems.push(format!("console {}: {params}", params["type"]))
            }
            "Log.entryAdded"
                if matches!(params["entry"]["level"].as_str(), Some("error" | "warning")) =>
            {
                problems.push(format!("log: {}", params["entry"]))
            }
            "Network.requestWillBeSent" => {
                let requested = params["request"]["url"].as_str().unwrap_or("");
                if requested == url {
                    page_requested = true;
                } else if !requested.starts_with("data:") {
                    problems.push(format!("request: {requested}"));
                }
            }
            "Network.loadingFailed" => problems.push(format!("failed load: {params}")),
            _ => {}
        }
    }
    (
        PageVisit {
            problems,
            page_requested,
            screenshot,
        },
        measured,
    )
}

/// The window width the pages are checked at (a laptop's).
const PAGE_WIDTH: u64 = 1280;

/// Measures, in a page, the document's width and the box around every table: its right edge,
/// its visible width, the width of what it holds, and whether it is the scrolling `.fit` box.
const MEASURE_FIT: &str = r#"({
    page: document.documentElement.scrollWidth,
    tables: Array.from(document.querySelectorAll("table")).map(table => {
        const box = table.parentElement;
        return {
            fit: box.classList.contains("fit"),
            right: box.getBoundingClientRect().right,
            visible: box.clientWidth,
            content: box.scrollWidth,
        };
    }),
})"#;

/// Checks that `page` fits a window [`PAGE_WIDTH`] wide: the document is no wider, every table
/// sits in a scrolling box whose right edge is inside the window. Returns how many tables are
/// wider than their box (they scroll inside it).
fn assert_fits(page: &Path, profile: &Path) -> usize {
    let (visit, measured) = visit_measuring(page, profile, MEASURE_FIT);
    let _ = std::fs::remove_dir_all(profile);
    assert!(
        visit.page_requested && visit.problems.is_empty(),
        "{}",
        visit.problems.join("\n")
    );
    let width = measured["page"].as_u64().expect("a width");
    assert!(
        width <= PAGE_WIDTH,
        "{}: the page is {width} px wide, more than the window's {PAGE_WIDTH}",
        page.display()
    );
    let tables = measured["tables"].as_array().expect("the tables");
    assert!(!tables.is_empty(), "no table measured");
    let mut scrolling = 0;
    for (index, table) in tables.iter().enumerate() {
        assert_eq!(table["fit"], true, "table {index} is not in a .fit box");
        let right = table["right"].as_f64().expect("right edge");
        assert!(
            right <= PAGE_WIDTH as f64,
            "table {index}'s box ends at {right} px: {table}"
        );
        if table["content"].as_u64() > table["visible"].as_u64() {
            scrolling += 1;
        }
    }
    scrolling
}

#[test]
fn wide_reports_fit_a_1280_px_window() {
    if require_chromium("wide reports fit a 1280 px window").is_none() {
        return;
    }
    let dir = temp_dir("fit");
    // A run of the 1,000-service mesh: a long table of services.
    let mesh = crate::common::scenario_path("systems/mesh-1000.toml");
    let run = dir.join("mesh");
    check_status(
        &meshsim(&[
            "run",
            arg(&mesh),
            "--set",
            "scenario.duration=3s",
            "--set",
            "scenario.warmup=1s",
            "--out",
            arg(&run),
            "--quiet",
        ]),
        "meshsim run mesh-1000",
    );
    assert_fits(&run.join("report.html"), &dir.join("profile-run"));
    // A comparison of 6 variants with long names: a column per variant in the metric tables.
    let file = write_file(&dir, "scenario.toml", SCENARIO.as_bytes());
    let compare = dir.join("compare");
    check_status(
        &meshsim(&[
            "compare",
            arg(&file),
            "--vary",
            r#"policy.retries=false,{ max = 1 },{ max = 2, per_try_timeout = "50ms" },{ max = 3, backoff = "1ms", max_backoff = "20ms" },{ max = 4, jitter = "none", on = ["refused", "timeout"] },{ max = 5, budget = 0.2 }"#,
            "-r",
            "2",
            "--out",
            arg(&compare),
            "--quiet",
        ]),
        "meshsim compare (6 variants)",
    );
    let scrolling = assert_fits(&compare.join("report.html"), &dir.join("profile-compare"));
    // The check is not vacuous: some table of the comparison is wider than the page, and is
    // scrolled inside its box instead of widening the page.
    assert!(
        scrolling > 0,
        "no table of the 6-variant comparison is wider than its box"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_report_opens_in_headless_chromium_without_errors_or_requests() {
    if require_chromium("the run report opens in headless Chromium").is_none() {
        return;
    }
    let out = run_report("chromium");
    let work = out.parent().unwrap().to_path_buf();

    // The harness first proves it sees what it checks for: a page with a console error and
    // a request for an outside resource (on the loopback discard port: nothing answers).
    let bad = write_file(
        &work,
        "bad.html",
        b"<!DOCTYPE html><html><body><p>bad</p><img src=\"http://127.0.0.1:9/x.png\"><script>console.error('boom')</script></body></html>",
    );
    let visit_bad = visit(&bad, &work.join("profile-bad"));
    assert!(
        visit_bad.page_requested,
        "the page's own request was not seen"
    );
    let seen = visit_bad.problems.join("\n");
    assert!(
        seen.contains("boom"),
        "a console error went unseen:\n{seen}"
    );
    assert!(
        seen.contains("127.0.0.1:9"),
        "an outside request went unseen:\n{seen}"
    );

    let report = visit(&out.join("report.html"), &work.join("profile"));
    std::fs::write(work.join("screenshot.png"), &report.screenshot).expect("save the screenshot");
    assert!(
        report.page_requested,
        "the report's own request was not seen"
    );
    assert!(
        report.problems.is_empty(),
        "opening report.html:\n{}",
        report.problems.join("\n")
    );
    let (width, height, colours, ink) = png_stats(&report.screenshot);
    assert!(
        width >= 1000 && height >= 1000,
        "screenshot {width}x{height}"
    );
    assert!(
        colours > 50 && ink > 0.05,
        "the screenshot looks blank: {colours} colours, {:.1}% ink",
        ink * 100.0
    );
    for profile in ["profile", "profile-bad"] {
        let _ = std::fs::remove_dir_all(work.join(profile));
    }
}
