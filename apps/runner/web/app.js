// rft dashboard page: run list, live metric charts (uPlot), samples and configs. The server
// pushes the run list and new log rows over Server-Sent Events (/api/events); a run's rows
// so far come from /api/series when it is first selected. All data is written with
// textContent, never as HTML.

const uPlot = window.uPlot;
const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d'];
/** Metric groups shown first, in this order; the rest follow alphabetically, `time` last. */
const GROUP_ORDER = ['eval', 'reward', 'entropy', 'response', 'train', 'aepo', 'clip', 'ratio', 'advantages'];
const MAX_DEFAULT_SELECTED = 8;

const state = {
  root: '',
  exists: true,
  runs: [],
  selected: new Set(),
  /** Whether the user picked runs; until then every run (newest first, up to 8) is shown. */
  picked: false,
  /** run → { metrics: {generation, start, rows}, eval: {...}, loading } */
  series: new Map(),
  /** metric key → { el, plot, signature } */
  charts: new Map(),
  groups: new Map(),
  filter: '',
  samplesRun: '',
  samplesStep: null,
  configRun: '',
};

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
}

function colorOf(name) {
  const i = state.runs.findIndex((r) => r.name === name);
  return PALETTE[(i < 0 ? 0 : i) % PALETTE.length];
}

function fmt(v) {
  if (v == null || Number.isNaN(v)) return '–';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return Number.isInteger(v) ? String(v) : v.toFixed(a < 1 ? 4 : 3);
}

/** Axis ticks: short, without trailing zeros. */
function tick(v) {
  if (v == null) return '';
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(1) : String(Number(v.toPrecision(4)));
}

function ago(ms) {
  if (ms == null) return '–';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(ms).toLocaleString();
}

function fileUrl(run, file) {
  return `/files/${[...run.split('/'), file].map(encodeURIComponent).join('/')}`;
}

async function getJson(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return res.json();
}

// ---- run list ----

function onRuns(data) {
  state.exists = data.exists;
  if (data.root) state.root = data.root;
  state.runs = data.runs;
  const names = new Set(data.runs.map((r) => r.name));
  for (const n of [...state.selected]) if (!names.has(n)) state.selected.delete(n);
  for (const n of [...state.series.keys()]) if (!names.has(n)) state.series.delete(n);
  if (!state.picked) {
    const newest = [...data.runs].sort((a, b) => (b.updatedAt ?? 0) - (a.updatedAt ?? 0)).slice(0, MAX_DEFAULT_SELECTED);
    state.selected = new Set(newest.map((r) => r.name));
  }
  renderRuns();
  loadSelected();
  renderSelects();
  scheduleCharts();
}

function renderRuns() {
  $('root').textContent = state.root;
  const notice = $('notice');
  const empty = !state.exists || state.runs.length === 0;
  notice.hidden = !empty;
  $('runs').hidden = empty;
  if (!state.exists) {
    notice.textContent = `The runs folder ${state.root} does not exist yet. rft train writes its run folders there; they appear here as soon as they start.`;
  } else if (state.runs.length === 0) {
    notice.textContent = `No runs in ${state.root} yet. Start one with rft train <config>; it appears here as soon as it starts.`;
  }
  const body = $('runs').tBodies[0];
  body.replaceChildren(
    ...state.runs.map((r) => {
      const on = state.selected.has(r.name);
      const entropyKey = Object.keys(r.last).find((k) => k.startsWith('entropy/'));
      const report = r.files.includes('report.html')
        ? el('a', { href: fileUrl(r.name, 'report.html'), target: '_blank', rel: 'noopener', text: 'report', onclick: (e) => e.stopPropagation() })
        : null;
      const box = el('input', { type: 'checkbox', 'aria-label': `show ${r.name}` });
      box.checked = on;
      return el(
        'tr',
        { class: on ? 'run-row' : 'run-row off', 'data-run': r.name, onclick: () => toggleRun(r.name) },
        el('td', {}, box),
        el('td', {}, el('span', { class: 'swatch', style: `background:${colorOf(r.name)}` }), r.name),
        el('td', {}, el('span', { class: `status ${r.status}`, text: r.status })),
        el('td', { class: 'num', text: r.step == null ? '–' : r.steps == null ? String(r.step) : `${r.step} / ${r.steps}` }),
        el('td', { class: 'num', text: fmt(r.last['reward/mean']) }),
        el('td', { class: 'num', text: entropyKey ? fmt(r.last[entropyKey]) : '–' }),
        el('td', { class: 'num', text: fmt(r.lastEval['eval/pass@1']) }),
        el('td', { text: r.composition ?? '' }),
        el('td', { text: ago(r.updatedAt) }),
        el('td', {}, report),
      );
    }),
  );
}

function toggleRun(name) {
  state.picked = true;
  if (state.selected.has(name)) state.selected.delete(name);
  else state.selected.add(name);
  renderRuns();
  loadSelected();
  renderSelects();
  scheduleCharts();
}

// ---- series ----

function loadSelected() {
  for (const name of state.selected) if (!state.series.has(name)) fetchSeries(name);
}

async function fetchSeries(name) {
  const entry = { metrics: null, eval: null, loading: true, stale: false };
  state.series.set(name, entry);
  try {
    const data = await getJson(`/api/series?run=${encodeURIComponent(name)}`);
    entry.metrics = data.metrics;
    entry.eval = data.eval;
  } catch {
    state.series.delete(name);
    return;
  }
  entry.loading = false;
  if (entry.stale) return fetchSeries(name);
  scheduleCharts();
}

function onRows(e) {
  if (e.file === 'samples') {
    if (e.run === state.samplesRun) scheduleSamples();
    return;
  }
  const entry = state.series.get(e.run);
  if (!entry) return;
  if (entry.loading) {
    // Rows that arrive while the first fetch is under way may or may not be in it: fetch again.
    entry.stale = true;
    return;
  }
  const s = entry[e.file];
  const have = s.start + s.rows.length;
  if (e.generation !== s.generation || e.reset || e.start > have) {
    fetchSeries(e.run);
    return;
  }
  s.rows.push(...e.rows.slice(have - e.start));
  scheduleCharts();
}

// ---- charts ----

let chartsQueued = false;
function scheduleCharts() {
  if (chartsQueued) return;
  chartsQueued = true;
  requestAnimationFrame(() => {
    chartsQueued = false;
    renderCharts();
  });
}

function groupOf(key) {
  const i = key.indexOf('/');
  return i === -1 ? 'train' : key.slice(0, i);
}

function groupRank(g) {
  const i = GROUP_ORDER.indexOf(g);
  if (i !== -1) return String(i).padStart(3, '0');
  return g === 'time' ? 'zzz' : `100${g}`;
}

/** Metric keys of the selected runs, with the log they come from. */
function metricKeys(runs) {
  const keys = new Map();
  for (const name of runs) {
    const entry = state.series.get(name);
    if (!entry || entry.loading) continue;
    for (const file of ['metrics', 'eval']) {
      for (const row of entry[file].rows) {
        for (const [k, v] of Object.entries(row)) if (k !== 'step' && typeof v === 'number' && !keys.has(k)) keys.set(k, file);
      }
    }
  }
  return keys;
}

function tableOf(name, file, key) {
  const entry = state.series.get(name);
  const xs = [];
  const ys = [];
  if (entry && !entry.loading) {
    for (const row of entry[file].rows) {
      const v = row[key];
      if (typeof row.step === 'number' && typeof v === 'number' && Number.isFinite(v)) {
        xs.push(row.step);
        ys.push(v);
      }
    }
  }
  return [xs, ys];
}

function chartWidth(node) {
  return Math.max(300, Math.floor(node.clientWidth || 360));
}

function renderCharts() {
  const runs = state.runs.map((r) => r.name).filter((n) => state.selected.has(n));
  const keys = metricKeys(runs);
  const filter = state.filter.trim().toLowerCase();
  const shown = [...keys.keys()].filter((k) => !filter || k.toLowerCase().includes(filter));
  const empty = $('charts-empty');
  empty.hidden = runs.length > 0 && shown.length > 0;
  empty.textContent =
    state.runs.length === 0
      ? 'Charts appear here once a run has logged a step.'
      : runs.length === 0
        ? 'Select runs in the table above to chart them.'
        : keys.size === 0
          ? 'The selected runs have not logged a step yet.'
          : `No metric matches “${state.filter}”.`;

  const byGroup = new Map();
  for (const k of shown.sort()) {
    const g = groupOf(k);
    if (!byGroup.has(g)) byGroup.set(g, []);
    byGroup.get(g).push(k);
  }
  const groups = [...byGroup.keys()].sort((a, b) => groupRank(a).localeCompare(groupRank(b)));
  const container = $('charts');
  for (const [g, node] of state.groups) {
    if (!byGroup.has(g)) {
      node.remove();
      state.groups.delete(g);
    }
  }
  for (const [k, c] of state.charts) {
    if (!shown.includes(k)) {
      c.plot.destroy();
      c.el.remove();
      state.charts.delete(k);
    }
  }
  const signature = runs.join('\n');
  for (const g of groups) {
    let group = state.groups.get(g);
    if (!group) {
      group = el('details', { class: 'group', open: '' }, el('summary', { text: g }), el('div', { class: 'grid' }));
      state.groups.set(g, group);
    }
    container.append(group); // keeps groups in order
    const grid = group.querySelector('.grid');
    for (const key of byGroup.get(g)) {
      const file = keys.get(key);
      const tables = runs.map((n) => tableOf(n, file, key));
      const data = uPlot.join(tables);
      const points = tables.reduce((sum, t) => sum + t[0].length, 0);
      let chart = state.charts.get(key);
      if (chart && chart.signature !== signature) {
        chart.plot.destroy();
        chart.el.remove();
        state.charts.delete(key);
        chart = undefined;
      }
      if (!chart) {
        const node = el('div', { class: 'chart', 'data-metric': key });
        grid.append(node);
        const plot = new uPlot(
          {
            title: key,
            width: chartWidth(node),
            height: 200,
            scales: { x: { time: false } },
            cursor: { sync: { key: 'rft-steps' } },
            series: [{ label: 'step' }, ...runs.map((n) => ({ label: n, stroke: colorOf(n), width: 1.5, spanGaps: true }))],
            axes: [{}, { size: 56, values: (_u, vals) => vals.map(tick) }],
          },
          data,
          node,
        );
        chart = { el: node, plot, signature };
        state.charts.set(key, chart);
      } else {
        chart.plot.setData(data);
      }
      grid.append(chart.el); // keeps charts in key order
      chart.el.dataset.points = String(points);
    }
  }
}

window.addEventListener('resize', () => {
  for (const c of state.charts.values()) c.plot.setSize({ width: chartWidth(c.el), height: 200 });
});

$('filter').addEventListener('input', (e) => {
  state.filter = e.target.value;
  scheduleCharts();
});

// ---- samples and configs ----

function renderSelects() {
  const names = state.runs.map((r) => r.name);
  const preferred = names.filter((n) => state.selected.has(n));
  const withSamples = state.runs.filter((r) => state.selected.has(r.name) && r.files.includes('samples.jsonl')).map((r) => r.name);
  for (const [id, field, refresh, first] of [
    ['samples-run', 'samplesRun', scheduleSamples, withSamples[0] ?? preferred[0]],
    ['config-run', 'configRun', renderConfig, preferred[0]],
  ]) {
    const select = $(id);
    if (!names.includes(state[field])) state[field] = first ?? names[0] ?? '';
    const current = [...select.options].map((o) => o.value).join('\n');
    if (current !== names.join('\n')) select.replaceChildren(...names.map((n) => el('option', { value: n, text: n })));
    if (select.value !== state[field]) {
      select.value = state[field];
      refresh();
    }
  }
  renderConfigDiff();
}

$('samples-run').addEventListener('change', (e) => {
  state.samplesRun = e.target.value;
  state.samplesStep = null;
  scheduleSamples();
});
$('samples-step').addEventListener('change', (e) => {
  state.samplesStep = e.target.value === '' ? null : Number(e.target.value);
  scheduleSamples();
});
$('config-run').addEventListener('change', (e) => {
  state.configRun = e.target.value;
  renderConfig();
});

let samplesTimer;
function scheduleSamples() {
  clearTimeout(samplesTimer);
  samplesTimer = setTimeout(renderSamples, 250);
}

async function renderSamples() {
  const run = state.samplesRun;
  const empty = $('samples-empty');
  const table = $('samples');
  if (!run) {
    empty.hidden = false;
    empty.textContent = 'No runs yet.';
    table.hidden = true;
    return;
  }
  const step = state.samplesStep;
  const data = await getJson(`/api/samples?run=${encodeURIComponent(run)}${step == null ? '' : `&step=${step}`}`).catch(() => null);
  if (run !== state.samplesRun) return;
  const stepSelect = $('samples-step');
  const steps = data?.steps ?? [];
  stepSelect.replaceChildren(
    el('option', { value: '', text: 'latest' }),
    ...steps
      .slice()
      .reverse()
      .map((s) => el('option', { value: String(s), text: String(s) })),
  );
  stepSelect.value = step == null ? '' : String(step);
  if (!data || data.rows.length === 0) {
    empty.hidden = false;
    empty.textContent = `${run} has no samples.jsonl (or no rows in it yet).`;
    table.hidden = true;
    return;
  }
  empty.hidden = true;
  table.hidden = false;
  const cell = (v, cls) => el('td', { class: cls, text: typeof v === 'number' ? fmt(v) : v == null ? '' : String(v) });
  table.tBodies[0].replaceChildren(
    ...data.rows.map((r) => el('tr', {}, cell(r.step, 'num'), cell(r.reward, 'num'), cell(r.length, 'num'), cell(r.prompt, 'text'), cell(r.completion, 'text'))),
  );
}

const configs = new Map();
async function configOf(run) {
  const info = state.runs.find((r) => r.name === run);
  const cached = configs.get(run);
  if (cached && cached.updatedAt === info?.updatedAt) return cached.data;
  const data = await getJson(`/api/config?run=${encodeURIComponent(run)}`).catch(() => ({ config: null, meta: null }));
  configs.set(run, { updatedAt: info?.updatedAt, data });
  return data;
}

async function renderConfig() {
  const run = state.configRun;
  if (!run) {
    $('config').textContent = '';
    $('meta').replaceChildren();
    $('files').replaceChildren();
    return;
  }
  const data = await configOf(run);
  if (run !== state.configRun) return;
  $('config').textContent = data.config ? JSON.stringify(data.config, null, 2) : `${run} has no readable config.json.`;
  const meta = data.meta;
  $('meta').replaceChildren(
    meta
      ? el(
          'table',
          {},
          el('caption', { text: 'run metadata' }),
          ...Object.entries(meta).map(([k, v]) => el('tr', {}, el('th', { text: k }), el('td', { text: typeof v === 'string' ? v : JSON.stringify(v) }))),
        )
      : '',
  );
  const info = state.runs.find((r) => r.name === run);
  $('files').replaceChildren(
    ...(info?.files ?? []).map((f) => el('a', { href: fileUrl(run, f), target: '_blank', rel: 'noopener', text: f })),
  );
}

function leaves(value, path, out) {
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) leaves(v, Array.isArray(value) ? `${path}[${k}]` : path ? `${path}.${k}` : k, out);
  } else out.set(path, JSON.stringify(value));
  return out;
}

async function renderConfigDiff() {
  const runs = state.runs.map((r) => r.name).filter((n) => state.selected.has(n));
  const box = $('config-diff');
  if (runs.length < 2) {
    box.replaceChildren();
    return;
  }
  const all = await Promise.all(runs.map(async (n) => leaves((await configOf(n)).config ?? {}, '', new Map())));
  const paths = [...new Set(all.flatMap((m) => [...m.keys()]))].sort();
  const differing = paths.filter((p) => new Set(all.map((m) => m.get(p))).size > 1);
  box.replaceChildren(
    el(
      'table',
      {},
      el('caption', { text: differing.length ? 'config differences between the selected runs' : 'the selected runs have the same config' }),
      differing.length ? el('tr', {}, el('th', { text: 'field' }), ...runs.map((n) => el('th', { text: n }))) : null,
      ...differing.map((p) => el('tr', {}, el('td', { text: p }), ...all.map((m) => el('td', { text: m.get(p) ?? '(absent)' })))),
    ),
  );
}

// ---- live connection ----

function connect() {
  const events = new EventSource('/api/events');
  let dropped = false;
  events.addEventListener('open', () => {
    $('conn').textContent = 'live';
    $('conn').className = 'conn live';
    if (dropped) {
      // The server may have restarted: what we hold may be out of date.
      state.series.clear();
      loadSelected();
      dropped = false;
    }
  });
  events.addEventListener('error', () => {
    dropped = true;
    $('conn').textContent = 'reconnecting…';
    $('conn').className = 'conn down';
  });
  events.addEventListener('runs', (e) => onRuns(JSON.parse(e.data)));
  events.addEventListener('rows', (e) => onRows(JSON.parse(e.data)));
}

getJson('/api/runs')
  .then((data) => {
    state.root = data.root;
    onRuns(data);
  })
  .catch(() => {});
connect();
setInterval(renderRuns, 10_000); // keeps "updated … ago" current
