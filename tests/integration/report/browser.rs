//! The report in a real headless Chromium: it loads with no script errors and draws every chart,
//! its table sorts when a header is clicked, and a screenshot shows coloured heatmap cells.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{fixture, make_report, workdir};
use crate::common::text;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs headless Chromium with `args` and a fresh profile; fails the test, saying how to fix
/// it, when Chromium is not installed (it must never pass silently without a browser).
pub(crate) fn chromium(args: &[&str]) -> Output {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the report tests need a headless browser. Install it with \
         `apt-get update && apt-get install -y chromium` (.ci/run does)"
    );
    let profile = workdir("chromium-profile");
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    // Read both pipes on threads so a chatty browser cannot block on a full pipe.
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        out_pipe.read_to_end(&mut b).map(|_| b)
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        err_pipe.read_to_end(&mut b).map(|_| b)
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s: {args:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = std::fs::remove_dir_all(&profile);
    Output {
        status,
        stdout: out.join().unwrap().unwrap(),
        stderr: err.join().unwrap().unwrap(),
    }
}

fn url(path: &Path) -> String {
    format!("file://{}", path.canonicalize().unwrap().display())
}

/// What a test page wrote into its `<pre id="out">`, once its scripts ran.
fn page_output(page: &Path) -> String {
    let o = chromium(&[
        "--allow-file-access-from-files",
        "--virtual-time-budget=5000",
        "--dump-dom",
        &url(page),
    ]);
    let dom = text(&o.stdout);
    dom.split(r#"<pre id="out">"#)
        .nth(1)
        .unwrap_or_else(|| panic!("no <pre id=\"out\"> in {}:\n{dom}", page.display()))
        .split("</pre>")
        .next()
        .unwrap()
        .to_string()
}

/// The DOM after the page's scripts ran, and the browser's console lines.
fn dump_dom(path: &Path) -> (String, Vec<String>) {
    let o = chromium(&["--dump-dom", &url(path)]);
    assert!(o.status.success(), "chromium failed: {}", text(&o.stderr));
    let console = text(&o.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    (text(&o.stdout), console)
}

fn errors_in(dom: &str) -> String {
    dom.split(r#"<pre id="errors">"#)
        .nth(1)
        .unwrap()
        .split("</pre>")
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn report_loads_in_chromium_with_no_errors_and_draws_every_chart() {
    let f = fixture();
    let (path, _, _) = make_report(f, "browser.html", &[]);
    let (dom, console) = dump_dom(&path);
    assert!(console.is_empty(), "console output: {console:#?}");
    assert_eq!(errors_in(&dom), "", "script errors");
    // 20 heatmaps, the distribution, the equity and drawdown charts, each with marks on it.
    assert!(
        dom.contains(r#"data-charts="23""#),
        "charts drawn: {:?}",
        dom.split("data-charts=").nth(1).map(|s| &s[..8])
    );
    let marks: Vec<u64> = dom
        .split(r#"data-drawn=""#)
        .skip(1)
        .filter_map(|s| s.split('"').next().unwrap().parse().ok())
        .collect();
    assert_eq!(marks.len(), 23);
    assert!(marks.iter().all(|&m| m > 0), "{marks:?}");

    // The checks above would see a broken page: a script error shows in both channels.
    let html = std::fs::read_to_string(&path).unwrap();
    let broken = f.dir.join("broken.html");
    std::fs::write(
        &broken,
        html.replacen(
            "drawHistogram();\n  drawEquity();",
            "drawHistogram();\n  undefinedFunction();",
            1,
        ),
    )
    .unwrap();
    let (dom, console) = dump_dom(&broken);
    assert!(
        errors_in(&dom).contains("undefinedFunction"),
        "{}",
        errors_in(&dom)
    );
    assert!(
        console.iter().any(|l| l.contains("undefinedFunction")),
        "{console:?}"
    );
}

#[test]
fn top_table_sorts_when_a_header_is_clicked() {
    let f = fixture();
    let (path, _, _) = make_report(f, "sorting.html", &[]);
    // A page that loads the report in a frame, clicks the "trades" header twice and writes the
    // column it sees after each click into its own DOM.
    let harness = f.dir.join("sort-harness.html");
    std::fs::write(
        &harness,
        format!(
            r#"<!DOCTYPE html><html><body><pre id="out"></pre>
<iframe id="f" src="{}" style="width:1200px;height:400px"></iframe>
<script>
document.getElementById('f').addEventListener('load', function () {{
  var d = document.getElementById('f').contentDocument;
  var th = d.querySelector('#top-table th[data-key="n_trades"]');
  var col = Array.prototype.indexOf.call(th.parentNode.children, th);
  var read = function () {{
    return Array.prototype.map.call(d.querySelectorAll('#top-table tbody tr'), function (r) {{
      return r.cells[col].getAttribute('data-v');
    }}).join(',');
  }};
  th.click();
  var first = read() + ';' + th.getAttribute('aria-sort');
  th.click();
  document.getElementById('out').textContent = first + '|' + read() + ';' + th.getAttribute('aria-sort');
}});
</script></body></html>"#,
            path.file_name().unwrap().to_str().unwrap()
        ),
    )
    .unwrap();
    let out = page_output(&harness);
    let (first, second) = out
        .split_once('|')
        .unwrap_or_else(|| panic!("harness saw nothing: {out:?}"));
    let parse = |s: &str| -> (Vec<u32>, String) {
        let (v, dir) = s.split_once(';').unwrap();
        (
            v.split(',').map(|x| x.parse().unwrap()).collect(),
            dir.to_string(),
        )
    };
    let (down, dir1) = parse(first);
    let (up, dir2) = parse(second);
    assert_eq!((dir1.as_str(), dir2.as_str()), ("descending", "ascending"));
    assert_eq!(down.len(), 50);
    assert!(down.windows(2).all(|w| w[0] >= w[1]), "{down:?}");
    let mut sorted = down.clone();
    sorted.reverse();
    assert_eq!(up, sorted);
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            if k <= c.len() {
                out.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn heatmap_screenshot_shows_coloured_cells() {
    let f = fixture();
    // No table rows and no curves: the first heatmaps sit right under the summary, in view.
    let (path, _, _) = make_report(f, "screenshot.html", &["--table-rows", "0", "--curves", "0"]);
    let shot = f.dir.join("heatmaps.png");
    let o = chromium(&[
        "--window-size=1280,1400",
        &format!("--screenshot={}", shot.display()),
        &url(&path),
    ]);
    assert!(
        o.status.success() && shot.exists(),
        "no screenshot: {}",
        text(&o.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let dim = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!((dim(16), dim(20)), (1280, 1400));

    // A probe page lays the report out again in a 1280 x 1400 frame to find where the first
    // heatmap is, decodes the screenshot with the browser itself (a data: image does not taint
    // a canvas) and, inside that rectangle, counts distinct colours and saturated pixels
    // (heatmap cells are coloured; text, grid lines and background are grey), and how many
    // pixels are those the report's script drew on that heatmap's canvas.
    let probe = f.dir.join("probe.html");
    std::fs::write(
        &probe,
        format!(
            r#"<!DOCTYPE html><html><body style="margin:0"><pre id="out"></pre>
<iframe id="f" src="{}" style="width:1280px;height:1400px;border:0"></iframe><script>
document.getElementById('f').addEventListener('load', function () {{
  var drawn = this.contentDocument.querySelector('#heatmap-0 canvas');
  var target = drawn.getBoundingClientRect();
  var img = new Image();
  img.onload = function () {{
    var c = document.createElement('canvas');
    c.width = img.width; c.height = img.height;
    var g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    var x = Math.round(target.left), y = Math.round(target.top);
    var w = Math.round(target.width), h = Math.round(target.height);
    var p = g.getImageData(x, y, w, h).data;
    var q = drawn.getContext('2d').getImageData(0, 0, w, h).data;
    var colours = {{}}, saturated = 0, same = 0;
    for (var i = 0; i < p.length; i += 4) {{
      colours[(p[i] << 16) | (p[i + 1] << 8) | p[i + 2]] = 1;
      if (Math.max(p[i], p[i + 1], p[i + 2]) - Math.min(p[i], p[i + 1], p[i + 2]) > 40) saturated++;
      // The canvas over the white page: composite its (premultiplied-free) RGBA on white.
      var a = q[i + 3] / 255, d = 0;
      for (var k = 0; k < 3; k++) d = Math.max(d, Math.abs(p[i + k] - (q[i + k] * a + 255 * (1 - a))));
      if (d <= 8) same++;
    }}
    document.getElementById('out').textContent = [x, y, w, h, Object.keys(colours).length,
      (saturated / (w * h)).toFixed(4), (same / (w * h)).toFixed(4)].join(' ');
  }};
  img.src = 'data:image/png;base64,{}';
}});
</script></body></html>"#,
            path.file_name().unwrap().to_str().unwrap(),
            base64(&png)
        ),
    )
    .unwrap();
    let out = page_output(&probe);
    let v: Vec<f64> = out.split_whitespace().map(|x| x.parse().unwrap()).collect();
    assert_eq!(v.len(), 7, "probe saw nothing: {out:?}");
    let (y, w, h, colours, saturated, same) = (v[1], v[2], v[3], v[4], v[5], v[6]);
    assert!(
        w > 200.0 && h > 150.0 && y + h <= 1400.0,
        "heatmap at {out}: not fully in the screenshot"
    );
    assert!(colours >= 20.0, "{colours} colours in the heatmap");
    assert!(saturated > 0.2, "only {saturated} of the heatmap is coloured");
    assert!(
        same > 0.95,
        "only {same} of the screenshot's heatmap is what the script drew"
    );
}

/// The "Is it luck?" section of the full year's report (with its 6:1 walk-forward) in Chromium:
/// no script errors; the histogram of PBO's logits, the Monte Carlo bands and the stitched
/// walk-forward equity each drawn; the tables hold the golden top 10 and the six folds.
#[test]
fn luck_section_draws_its_charts_in_chromium() {
    let run = crate::luck::year_run();
    let page = run.dir.join("luck.html");
    let o = crate::common::stratbox(&[
        "report",
        run.results.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
        "--curves",
        "1",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (dom, console) = dump_dom(&page);
    assert!(console.is_empty(), "console output: {console:#?}");
    assert_eq!(errors_in(&dom), "", "script errors");
    for id in ["lambda-histogram", "mc-bands", "wf-chart"] {
        let tag = dom
            .split(&format!(r#"id="{id}""#))
            .nth(1)
            .unwrap_or_else(|| panic!("no #{id}"))
            .split('>')
            .next()
            .unwrap();
        let marks: u64 = tag
            .split(r#"data-drawn=""#)
            .nth(1)
            .unwrap_or_else(|| panic!("#{id} not drawn: {tag}"))
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(marks > 0, "#{id}: {tag}");
    }
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("does not stand out from luck"));
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(crate::common::shared("golden/luck-2018.json")).unwrap(),
    )
    .unwrap();
    let section = |id: &str| {
        html.split(&format!(r#"<table id="{id}""#))
            .nth(1)
            .unwrap()
            .split("</table>")
            .next()
            .unwrap()
            .to_string()
    };
    let ids: Vec<String> = section("dsr-table")
        .split("<tr>")
        .skip(2)
        .map(|row| {
            row.split("data-v=\"")
                .nth(2)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    let want: Vec<String> = golden["dsr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["strategy_id"].to_string())
        .collect();
    assert_eq!(ids, want);
    assert_eq!(section("wf-table").matches("<tr>").count(), 1 + 6);
    assert_eq!(section("bands-table").matches("<tr>").count(), 1 + 3);
}
