//! The web view: a real run watched over HTTP (the event stream parsed, the live page in a real
//! headless browser seeing the counts change), the token, path traversal, the report and the
//! row queries after the run, and the refusal of a non-loopback address without a token.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stratbox::Exit;

use crate::common::{stratbox, text};

const TOKEN: &str = "test-token-0123456789";

/// `GET path` on `addr` (HTTP/1.1, connection closed after): status and body.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The first `n` server-sent events of `/events`, parsed.
fn events(addr: &str, n: usize) -> Vec<serde_json::Value> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(s, "GET /events?token={TOKEN} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut found = Vec::new();
    for line in BufReader::new(s).lines() {
        let line = line.unwrap();
        // Chunked transfer: data lines stand on their own between the chunk sizes.
        if let Some(json) = line.strip_prefix("data: ") {
            found.push(serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}")));
            if found.len() == n {
                break;
            }
        }
    }
    found
}

/// Starts a watched run of the bundled year (93 batches, one at a time, so it lasts) and
/// returns it with its address, read from the line that announces the URL.
fn watched_run(out: &std::path::Path) -> (Child, String, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stratbox"))
        .args([
            "discover",
            "--serve",
            "127.0.0.1:0",
            "--token",
            TOKEN,
            "--jobs",
            "1",
            "--batch-size",
            "50",
        ])
        .args(["--progress", "lines", "-o", out.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let url = loop {
        let line = rx
            .recv_timeout(deadline - Instant::now())
            .expect("the URL is announced");
        seen.push(line.clone());
        if let Some(url) = line.strip_prefix("Serving on ") {
            break url.to_string();
        }
    };
    let addr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    std::thread::spawn(move || for _ in rx {});
    (child, addr, seen)
}

fn batches_shown(dom: &str) -> Option<usize> {
    let at = dom.find("id=\"batches\">")? + "id=\"batches\">".len();
    dom[at..].split(" / ").next()?.trim().parse().ok()
}

#[test]
fn a_run_is_watched_live_and_its_results_browsed_after() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("live.parquet");
    let (mut child, addr, _) = watched_run(&out);

    // Without the token: 401. Paths outside the routes, encoded or not: 404 and no file.
    assert_eq!(get(&addr, "/api/state").0, 401);
    assert_eq!(get(&addr, "/").0, 401);
    for path in [
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2fetc%2fpasswd",
        "/report/../Cargo.toml",
        "/static/../../Cargo.toml",
    ] {
        let (status, body) = get(&addr, &format!("{path}?token={TOKEN}"));
        assert_eq!(status, 404, "{path}: {body}");
        assert!(
            !body.contains("root:") && !body.contains("[package]"),
            "{path}: {body}"
        );
    }

    // The event stream: the state first, then the run's batch events, counting up.
    let evs = events(&addr, 4);
    assert_eq!(evs[0]["event"], "state", "{evs:?}");
    let dones: Vec<u64> = evs[1..]
        .iter()
        .filter(|e| e["event"] == "batch")
        .map(|e| e["done"].as_u64().unwrap())
        .collect();
    assert!(
        !dones.is_empty() && dones.windows(2).all(|w| w[0] < w[1]),
        "{evs:?}"
    );
    for e in &evs[1..] {
        if e["event"] == "batch" {
            for key in [
                "batch", "start", "end", "seconds", "attempts", "outcome", "failures", "done", "total",
            ] {
                assert!(e.get(key).is_some(), "{key} missing: {e}");
            }
        }
    }

    // The live page in a real browser, twice: the count of batches moves.
    let page = format!("http://{addr}/?token={TOKEN}");
    let dump = || {
        text(&crate::report::browser::chromium(&["--virtual-time-budget=800", "--dump-dom", &page]).stdout)
    };
    let first = dump();
    std::thread::sleep(Duration::from_secs(2));
    let second = dump();
    let (a, b) = (batches_shown(&first), batches_shown(&second));
    assert!(
        matches!((a, b), (Some(a), Some(b)) if b > a),
        "{a:?} then {b:?}:\n{second}"
    );

    // When the run ends: the report and every row, queried on the server.
    let deadline = Instant::now() + Duration::from_secs(600);
    while get(&addr, &format!("/report?token={TOKEN}")).0 != 200 {
        assert!(Instant::now() < deadline, "the report never appeared");
        std::thread::sleep(Duration::from_millis(500));
    }
    let (status, html) = get(&addr, &format!("/report?token={TOKEN}"));
    assert_eq!(status, 200);
    assert!(html.contains("<html") && !html.contains("http://") && !html.contains("https://"));
    let (status, body) = get(
        &addr,
        &format!(
            "/api/rows?token={TOKEN}&sort=net_pnl_usd&desc=1&size=5&lots=0.1&min.n_trades=30&p.direction=long"
        ),
    );
    assert_eq!(status, 200, "{body}");
    let page: serde_json::Value = serde_json::from_str(&body).unwrap();
    let cols: Vec<&str> = page["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let col = |name: &str| cols.iter().position(|c| *c == name).unwrap();
    // The same query worked out here from the results file.
    let (df, _) = stratbox::results::read_parquet(&out).unwrap();
    let f64s = |n: &str| {
        df.column(n)
            .unwrap()
            .f64()
            .unwrap()
            .into_no_null_iter()
            .collect::<Vec<f64>>()
    };
    let (lots, pnl) = (f64s("lots"), f64s("net_pnl_usd"));
    let ids: Vec<i64> = df
        .column("strategy_id")
        .unwrap()
        .i64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    let trades: Vec<u32> = df
        .column("n_trades")
        .unwrap()
        .u32()
        .unwrap()
        .into_no_null_iter()
        .collect();
    let dir_col = df.column("direction").unwrap().str().unwrap().clone();
    let mut expected: Vec<(f64, i64)> = (0..df.height())
        .filter(|&r| lots[r] == 0.1 && trades[r] >= 30 && dir_col.get(r) == Some("long"))
        .map(|r| (pnl[r], ids[r]))
        .collect();
    expected.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    assert_eq!(page["total"].as_u64().unwrap() as usize, expected.len());
    let got: Vec<(f64, i64)> = page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[col("net_pnl_usd")].as_f64().unwrap(),
                r[col("strategy_id")].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, expected[..5].to_vec());
    assert_eq!(
        get(&addr, &format!("/api/rows?token={TOKEN}&sort=no_such")).0,
        400
    );

    // Ctrl-C ends the server, and the run's exit code stands.
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(Exit::Ok.code()));
}

#[test]
fn a_non_loopback_address_without_a_token_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.parquet");
    let o = stratbox(&["discover", "--serve", "0.0.0.0:8787", "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(Exit::BadInput.code()));
    assert!(text(&o.stderr).contains("needs --token"), "{}", text(&o.stderr));
    assert!(!out.exists() && !stratbox::run::parts_dir(&out).exists());
    let o = stratbox(&[
        "discover",
        "--serve",
        "127.0.0.1:0",
        "--token",
        "short",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(Exit::BadInput.code()));
}
