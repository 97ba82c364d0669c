//! `txn-notify dashboard` looked at in a real browser: a simulation writes metrics.emf, the
//! command draws template.yaml's dashboard from it, and Debian's chromium (headless) loads
//! the page, runs its script and hands back the DOM it ended with and a screenshot. The
//! charts count as rendered when the DOM holds one SVG line per series with data, as many
//! charts as the page's data says, and the screenshot is a real picture.
//!
//! Needs chromium: `TXN_NOTIFY_CHROMIUM`, else /usr/bin/chromium. `scripts/test.sh`
//! installs Debian's package when it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_txn-notify");

fn chromium() -> PathBuf {
    let path = std::env::var_os("TXN_NOTIFY_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "no chromium at {}: run the suite through scripts/test.sh (it installs Debian's chromium), \
         or install it (apt-get install chromium) or set TXN_NOTIFY_CHROMIUM",
        path.display()
    );
    path
}

/// Headless chromium on a local file, with the flags this machine's closed network needs,
/// a fresh profile, and a time limit.
fn browse(page: &Path, profile: &Path, extra: &[String]) -> std::process::Output {
    let output = Command::new("timeout")
        .arg("120")
        .arg(chromium())
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
            "--window-size=1240,2600",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The figures the page carries, as the command wrote them.
fn page_data(html: &str) -> Value {
    let start = html.find(r#"id="dashboard-data">"#).unwrap() + r#"id="dashboard-data">"#.len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

fn attribute(dom: &str, name: &str) -> Option<String> {
    let start = dom.find(&format!("{name}=\""))? + name.len() + 2;
    Some(dom[start..start + dom[start..].find('"')?].to_string())
}

#[test]
fn the_dashboard_page_renders_its_charts_in_chromium() {
    let dir = std::env::temp_dir().join(format!("txn-notify-dashboard-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let simulate = Command::new(BIN)
        .args([
            "simulate",
            "--accounts",
            "30",
            "--transactions",
            "1500",
            "--faults",
            "0.02",
            "--json",
        ])
        .arg("--data-dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        simulate.status.success(),
        "{}",
        String::from_utf8_lossy(&simulate.stderr)
    );
    let drawn = Command::new(BIN)
        .args(["dashboard", "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(drawn.status.success(), "{}", String::from_utf8_lossy(&drawn.stderr));
    let page = dir.join("dashboard.html");
    let html = std::fs::read_to_string(&page).unwrap();

    // What the script must draw: one chart per panel with data, one line per series.
    let data = page_data(&html);
    let charts: Vec<&Value> = data["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == "chart")
        .collect();
    let with_data: Vec<&&Value> = charts
        .iter()
        .filter(|p| {
            p["series"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| !s["points"].as_array().unwrap().is_empty())
        })
        .collect();
    let lines: usize = with_data
        .iter()
        .map(|p| {
            p["series"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| !s["points"].as_array().unwrap().is_empty())
                .count()
        })
        .sum();
    assert!(
        with_data.len() >= 8,
        "a run fills most charts: {} of {}",
        with_data.len(),
        charts.len()
    );

    let profile = dir.join("chromium-profile");
    let dom = String::from_utf8(browse(&page, &profile, &["--dump-dom".to_string()]).stdout).unwrap();
    assert_eq!(
        attribute(&dom, "data-charts-rendered").as_deref(),
        Some(with_data.len().to_string().as_str()),
        "the script ran and drew every chart with data"
    );
    assert_eq!(dom.matches("<polyline").count(), lines, "one line per series");
    assert_eq!(dom.matches("class=\"chart\"").count(), with_data.len());
    for label in ["sent", "stream records in", "p99", "Transaction Recorded (processor)"] {
        assert!(dom.contains(&format!("data-label=\"{label}\"")), "no line {label}");
    }
    assert!(dom.contains("no data in this run"), "panels without local data say so");
    assert!(dom.contains("In CloudWatch only: "), "AWS metrics are named, not drawn");

    let screenshot = dir.join("dashboard.png");
    browse(&page, &profile, &[format!("--screenshot={}", screenshot.display())]);
    let png = std::fs::read(&screenshot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        png.len() > 60_000,
        "a page of charts, not a blank one: {} bytes",
        png.len()
    );
    eprintln!("screenshot: {}", screenshot.display());
}
