/**
 * The runs dashboard: one self-contained page (plotly.js embedded, no network) with every run of a run store as a
 * sortable, filterable table, links to each run's report, and a chooser that overlays the chosen runs' curves.
 */
import { TABLE_STYLE, escapeHtml, plotlyLibraryScript, scriptJson } from './html';
import type { History } from './types';

/** One run as the dashboard lists it; numbers are undefined where the run has none (unfinished, not published). */
export interface DashboardRun {
  /** The run folder, relative to the page. */
  dir: string;
  experiment: string;
  trial: string;
  scale: string;
  dataKind: string;
  backend: string;
  epochsRun?: number;
  /** The epoch limit the run was set up with. */
  epochs?: number;
  bestValLoss?: number;
  testAccuracy?: number;
  /** The study's published test accuracy for this trial. */
  studyTestAccuracy?: number;
  /** Seconds of training. */
  seconds?: number;
  /** complete, failed (a NaN loss) or incomplete (running, or interrupted before its test evaluation). */
  status: 'complete' | 'failed' | 'incomplete';
  /** ISO start time. */
  created: string;
  /** report.html relative to the page, when the run has one. */
  report?: string;
  history: History;
}

/** The table's columns: key, heading, and whether it sorts as a number. */
export const DASHBOARD_COLUMNS: [keyof DashboardRun, string, boolean][] = [
  ['experiment', 'experiment', false],
  ['trial', 'trial', false],
  ['scale', 'scale', false],
  ['dataKind', 'data', false],
  ['backend', 'backend', false],
  ['epochsRun', 'epochs', true],
  ['bestValLoss', 'best val loss', true],
  ['testAccuracy', 'test accuracy', true],
  ['studyTestAccuracy', 'study', true],
  ['seconds', 'training time', true],
  ['status', 'status', false],
  ['created', 'started', false],
];

/** The dashboard page. Rows start sorted newest first; the newest complete run's curves are drawn until others are chosen. */
export function dashboardPage(title: string, runs: DashboardRun[]): string {
  const rows = [...runs].sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
  const head = DASHBOARD_COLUMNS.map(
    ([key, label, numeric], i) =>
      `<th data-col="${i}" data-key="${key}" data-numeric="${numeric}" title="sort">${escapeHtml(label)}</th>`,
  ).join('');
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title>`,
    '<style>body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}h1{font-size:1.5em}th{cursor:pointer;user-select:none;background:#e8eef7}',
    'th.asc::after{content:" \\25B2"}th.desc::after{content:" \\25BC"}tr.synthetic ' +
      'td{background:#fff4e5}#runs td{white-space:nowrap}#controls{margin:0.8em 0}#controls ' +
      'input[type=search]{width:24em}</style>',
    TABLE_STYLE,
    plotlyLibraryScript(),
    '</head>',
    '<body>',
    `<h1>${escapeHtml(title)}</h1>`,
    `<p>${runs.length} run(s). Click a heading to sort, type to filter (every column is ` +
      `searched; several words must all match), tick runs to overlay their curves. Rows shaded ` +
      `orange trained on the synthetic set: their numbers say nothing about the study.</p>`,
    '<div id="controls"><input type="search" id="filter" placeholder="filter, e.g. face-mask quick"> ',
    '<label>curve <select id="metric"><option value="val_loss">validation loss</option><option ' +
      'value="loss">training loss</option><option value="val_acc">validation ' +
      'accuracy</option><option value="acc">training accuracy</option><option ' +
      'value="lr">learning rate</option></select></label> ',
    '<button id="clear" type="button">clear chosen</button> <span id="shown"></span></div>',
    '<div id="overlay" class="affect-plot" style="width:100%;min-height:420px"></div>',
    `<table class="affect-table" id="runs"><thead><tr><th>overlay</th>${head}<th>report</th></tr></thead><tbody></tbody></table>`,
    `<script id="runs-data" type="application/json">${scriptJson(rows)}</script>`,
    `<script id="columns-data" type="application/json">${scriptJson(DASHBOARD_COLUMNS)}</script>`,
    `<script type="text/javascript">${DASHBOARD_SCRIPT}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

// Runs in the page: builds the rows from the embedded JSON, then sorts, filters and redraws the overlay on demand.
const DASHBOARD_SCRIPT = String.raw`
(function () {
  var runs = JSON.parse(document.getElementById('runs-data').textContent);
  var columns = JSON.parse(document.getElementById('columns-data').textContent);
  var tbody = document.querySelector('#runs tbody');
  var chosen = {};
  var sort = { col: -1, dir: 1 };
  function fmt(key, v) {
    if (v === undefined || v === null || v === '') return '-';
    if (key === 'seconds') return v >= 60 ? Math.floor(v / 60) + ' min ' + Math.round(v % 60) + ' s' : v.toFixed(1) + ' s';
    if (key === 'created') return String(v).replace('T', ' ').replace(/\.\d+Z$/, 'Z');
    if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(4);
    return String(v);
  }
  function text(s) { return document.createTextNode(s); }
  runs.forEach(function (r, i) {
    var tr = document.createElement('tr');
    tr.dataset.index = i;
    if (r.dataKind === 'synthetic') tr.className = 'synthetic';
    var box = document.createElement('input');
    box.type = 'checkbox'; box.className = 'choose'; box.disabled = !r.history.epochs.length;
    box.addEventListener('change', function () { if (box.checked) chosen[i] = true; else delete chosen[i]; draw(); });
    var td = document.createElement('td'); td.appendChild(box); tr.appendChild(td);
    columns.forEach(function (c) {
      var cell = document.createElement('td');
      var v = r[c[0]];
      cell.appendChild(text(c[0] === 'epochsRun' && r.epochs ? fmt('epochsRun', v) + ' / ' + r.epochs : fmt(c[0], v)));
      tr.appendChild(cell);
    });
    var link = document.createElement('td');
    if (r.report) { var a = document.createElement('a'); a.href = r.report; a.appendChild(text('report')); link.appendChild(a); }
    else link.appendChild(text('-'));
    tr.appendChild(link);
    tr.dataset.search = columns.map(function (c) { return fmt(c[0], r[c[0]]); }).concat([r.dir]).join(' ').toLowerCase();
    tbody.appendChild(tr);
  });
  function applyFilter() {
    var words = document.getElementById('filter').value.toLowerCase().split(/\s+/).filter(Boolean);
    Array.prototype.forEach.call(tbody.rows, function (tr) {
      tr.style.display = words.every(function (w) { return tr.dataset.search.indexOf(w) >= 0; }) ? '' : 'none';
    });
  }
  function applySort(col) {
    sort.dir = sort.col === col ? -sort.dir : 1;
    sort.col = col;
    var c = columns[col];
    var rows = Array.prototype.slice.call(tbody.rows);
    rows.sort(function (x, y) {
      var a = runs[x.dataset.index][c[0]], b = runs[y.dataset.index][c[0]];
      var ma = a === undefined || a === null, mb = b === undefined || b === null;
      if (ma || mb) return ma === mb ? 0 : ma ? 1 : -1;
      return (c[2] ? a - b : String(a).localeCompare(String(b))) * sort.dir;
    });
    rows.forEach(function (r) { tbody.appendChild(r); });
    document.querySelectorAll('#runs th[data-col]').forEach(function (th) {
      th.classList.remove('asc', 'desc');
      if (Number(th.dataset.col) === col) th.classList.add(sort.dir > 0 ? 'asc' : 'desc');
    });
  }
  function draw() {
    var select = document.getElementById('metric');
    var metric = select.value, label = select.options[select.selectedIndex].text;
    var picked = Object.keys(chosen).map(Number);
    if (!picked.length) {
      var latest = runs.findIndex(function (r) { return r.status === 'complete' && r.history.epochs.length; });
      if (latest >= 0) picked = [latest];
    }
    var traces = picked.filter(function (i) { return runs[i].history.logs[metric]; }).map(function (i) {
      var r = runs[i];
      return { type: 'scatter', mode: 'lines+markers', name: r.experiment + ' / ' + r.trial + ' (' + r.scale + ', ' + fmt('created', r.created) + ')',
        x: r.history.epochs.map(function (e) { return e + 1; }), y: r.history.logs[metric] };
    });
    document.getElementById('shown').textContent = traces.length + ' run(s) drawn' +
      (Object.keys(chosen).length ? '' : ' (the newest complete run; tick others)');
    var el = document.getElementById('overlay');
    if (!traces.length) { el.textContent = 'no chosen run has a "' + metric + '" curve'; return; }
    el.textContent = '';
    var epochs = Math.max.apply(null, traces.map(function (t) { return t.x.length; }));
    window.Plotly.newPlot(el, traces, {
      title: { text: label + ' per epoch' },
      xaxis: { title: { text: 'epoch' }, tick0: 1, dtick: Math.max(1, Math.ceil(epochs / 10)) },
      yaxis: { title: { text: label }, type: metric === 'lr' ? 'log' : '-' },
      height: 420,
      legend: { orientation: 'h', y: -0.25 },
    }, { responsive: true, displaylogo: false });
  }
  document.querySelectorAll('#runs th[data-col]').forEach(function (th) {
    th.addEventListener('click', function () { applySort(Number(th.dataset.col)); });
  });
  document.getElementById('filter').addEventListener('input', applyFilter);
  document.getElementById('metric').addEventListener('change', draw);
  document.getElementById('clear').addEventListener('click', function () {
    chosen = {};
    document.querySelectorAll('#runs input.choose').forEach(function (b) { b.checked = false; });
    draw();
  });
  draw();
})();
`;
