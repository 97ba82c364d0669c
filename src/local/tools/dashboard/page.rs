//! The dashboard as one self-contained HTML file: the figures as JSON in the page, and a
//! small script that draws each chart as SVG (no library, nothing fetched, so it opens
//! offline). The script marks what it drew (`data-charts-rendered` on the body, one
//! `polyline` per line with points), which the browser test reads back.

use super::Page;

pub(super) fn html(page: &Page, source: &str) -> Result<String, minijinja::Error> {
    // Inside <script>, "</" would end the element early.
    let data = serde_json::to_string(page)
        .expect("a page of figures serialises")
        .replace("</", "<\\/");
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env.add_template("dashboard.html", TEMPLATE)?;
    env.get_template("dashboard.html").and_then(|t| {
        t.render(minijinja::context! {
            source => source,
            documents => page.documents,
            data => minijinja::Value::from_safe_string(data),
            script => minijinja::Value::from_safe_string(SCRIPT.to_string()),
        })
    })
}

const TEMPLATE: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>txn-notify dashboard</title>
<style>
body{font-family:Helvetica,Arial,sans-serif;margin:1.5em;color:#1f2933;background:#f5f7fa}
header{margin-bottom:1em}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:14px}
.panel{background:#fff;border:1px solid #d9e2ec;border-radius:4px;padding:10px 12px}
.panel.text{grid-column:1/-1}
.panel h3{font-size:14px;margin:0 0 6px 0}
.legend{list-style:none;padding:0;margin:6px 0 0 0;font-size:12px;columns:2}
.legend li{margin:1px 0}
.swatch{display:inline-block;width:10px;height:10px;margin-right:5px;border-radius:2px}
.note{font-size:11px;color:#7b8794;margin-top:4px}
.empty{font-size:12px;color:#7b8794}
svg text{font-size:10px;fill:#52606d}
code{background:#eef2f7;padding:0 3px}
</style></head>
<body>
<header><strong>txn-notify dashboard</strong> · template.yaml's CloudWatch dashboard drawn from <code>{{ source }}/metrics.emf</code> ({{ documents }} EMF documents) · <span id="range"></span><br><small>Titles keep CloudWatch's wording ("per minute"); here each point is one bucket of the run.</small></header>
<div class="grid" id="grid"></div>
<script type="application/json" id="dashboard-data">{{ data }}</script>
<script>{{ script }}</script>
</body></html>
"#;

const SCRIPT: &str = r#"
(function () {
  const page = JSON.parse(document.getElementById('dashboard-data').textContent);
  const grid = document.getElementById('grid');
  const colors = ['#1f77b4','#ff7f0e','#2ca02c','#d62728','#9467bd','#8c564b','#e377c2','#7f7f7f','#bcbd22','#17becf','#393b79','#637939'];
  const svgNs = 'http://www.w3.org/2000/svg';
  const time = ms => new Date(ms).toISOString().substring(11, 19);
  const number = v => Math.abs(v) >= 1e6 ? (v / 1e6).toFixed(1) + 'M'
    : Math.abs(v) >= 1e4 ? (v / 1e3).toFixed(1) + 'k'
    : Math.abs(v) >= 100 ? v.toFixed(0) : String(Math.round(v * 100) / 100);
  document.getElementById('range').textContent =
    time(page.start_ms) + ' → ' + time(page.end_ms) + ' UTC, ' + (page.bucket_ms / 1000) + ' s buckets';
  const el = (name, attrs, parent) => {
    const node = document.createElementNS(svgNs, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    parent.appendChild(node);
    return node;
  };
  let rendered = 0;
  for (const panel of page.panels) {
    const box = document.createElement('div');
    box.className = 'panel ' + panel.kind;
    grid.appendChild(box);
    if (panel.kind === 'text') {
      for (const line of panel.markdown.split('\n')) {
        const heading = line.startsWith('## ');
        const node = document.createElement(heading ? 'h2' : 'p');
        const text = heading ? line.substring(3) : line;
        text.split('`').forEach((part, i) => {
          const span = document.createElement(i % 2 ? 'code' : 'span');
          span.textContent = part;
          node.appendChild(span);
        });
        box.appendChild(node);
      }
      continue;
    }
    const title = document.createElement('h3');
    title.textContent = panel.title;
    box.appendChild(title);
    const lines = panel.series.filter(s => s.points.length > 0);
    if (lines.length === 0) {
      const empty = document.createElement('div');
      empty.className = 'empty';
      empty.textContent = 'no data in this run';
      box.appendChild(empty);
    } else {
      const W = 540, H = 200, L = 46, R = 8, T = 8, B = 22;
      const svg = el('svg', {width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, 'class': 'chart'}, box);
      const x0 = page.start_ms, x1 = Math.max(page.end_ms, page.start_ms + page.bucket_ms);
      let ymax = 0;
      for (const s of lines) for (const p of s.points) ymax = Math.max(ymax, p[1]);
      ymax = ymax > 0 ? ymax * 1.1 : 1;
      const sx = t => L + (t - x0) / (x1 - x0) * (W - L - R);
      const sy = v => H - B - v / ymax * (H - T - B);
      for (let i = 0; i <= 4; i++) {
        const v = ymax * i / 4;
        el('line', {x1: L, x2: W - R, y1: sy(v), y2: sy(v), stroke: '#e4e7eb'}, svg);
        el('text', {x: L - 4, y: sy(v) + 3, 'text-anchor': 'end'}, svg).textContent = number(v);
      }
      el('text', {x: L, y: H - 6}, svg).textContent = time(x0);
      el('text', {x: W - R, y: H - 6, 'text-anchor': 'end'}, svg).textContent = time(x1);
      let points = 0;
      lines.forEach((s, i) => {
        const color = colors[i % colors.length];
        const coords = s.points.map(p => sx(p[0]).toFixed(1) + ',' + sy(p[1]).toFixed(1)).join(' ');
        el('polyline', {points: coords, fill: 'none', stroke: color, 'stroke-width': 1.6, 'data-label': s.label}, svg);
        if (s.points.length === 1) el('circle', {cx: sx(s.points[0][0]), cy: sy(s.points[0][1]), r: 2.5, fill: color}, svg);
        points += s.points.length;
      });
      svg.setAttribute('data-points', points);
      const legend = document.createElement('ul');
      legend.className = 'legend';
      lines.forEach((s, i) => {
        const item = document.createElement('li');
        const swatch = document.createElement('span');
        swatch.className = 'swatch';
        swatch.style.background = colors[i % colors.length];
        item.appendChild(swatch);
        const max = Math.max(...s.points.map(p => p[1]));
        item.appendChild(document.createTextNode(s.label + ' (max ' + number(max) + ')'));
        legend.appendChild(item);
      });
      box.appendChild(legend);
      rendered += 1;
    }
    if (panel.cloudwatch_only.length > 0) {
      const note = document.createElement('div');
      note.className = 'note';
      note.textContent = 'In CloudWatch only: ' + panel.cloudwatch_only.join('; ');
      box.appendChild(note);
    }
  }
  document.body.setAttribute('data-charts-rendered', rendered);
})();
"#;
