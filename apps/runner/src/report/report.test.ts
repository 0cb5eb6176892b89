import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collectCharts, type StepRecord } from './charts';
import { writeReport } from './html';
import { formatSummaryTable, summarize } from './summary';

const records: StepRecord[] = [
  { step: 0, metrics: { 'eval/pass@1': 0.2, 'eval/pass@4': 0.45 } },
  { step: 1, metrics: { 'reward/mean': 0.1, 'entropy/exact': 1.5, 'entropy/nll': 1.4, 'aepo/temperature': 1.2 } },
  { step: 2, metrics: { 'reward/mean': 0.3, 'entropy/exact': 1.2, 'entropy/nll': 1.1, 'aepo/temperature': 0.8, 'myreg/score': 3, loss: 0.5 } },
  {
    step: 3,
    metrics: { 'reward/mean': 0.5, 'entropy/exact': 1.0, 'entropy/nll': 0.9, 'eval/pass@1': 0.4, 'eval/pass@4': 0.6, 'myreg/score': 4, loss: 0.4 },
  },
];

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Well-formedness: tags that are not closed in order (empty for valid XML nesting). */
function unbalancedTags(svg: string): string[] {
  const stack: string[] = [];
  const bad: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z][\w:-]*)((?:[^>"]|"[^"]*")*?)(\/?)>/g)) {
    if (m[1]) {
      const open = stack.pop();
      if (open !== m[2]) bad.push(`</${m[2]}> closes <${open}>`);
    } else if (!m[4]) stack.push(m[2]!);
  }
  return [...bad, ...stack.map((t) => `<${t}> not closed`)];
}

/** The `d` attribute of every path in an SVG, and its text labels. */
function svgParts(svg: string) {
  return {
    // Paths of line marks: one per series.
    lines: [...svg.matchAll(/class="mark-line role-mark[^"]*"[^>]*>((?:<path[^>]*\/>)*)/g)].flatMap((m) =>
      [...m[1]!.matchAll(/ d="([^"]+)"/g)].map((d) => d[1]!),
    ),
    texts: [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!),
  };
}

describe('report', () => {
  it('collects one series per metric key, in step order, and drops empty charts', () => {
    const charts = collectCharts(records.filter((r) => !('aepo/temperature' in r.metrics)));
    expect(charts.map((c) => c.definition.id)).toEqual(['reward', 'entropy', 'pass-at-k']);
    const passAt = charts.find((c) => c.definition.id === 'pass-at-k')!;
    expect([...passAt.series.keys()]).toEqual(['pass@1', 'pass@4']);
    expect(passAt.series.get('pass@4')).toEqual([
      { step: 0, value: 0.45 },
      { step: 3, value: 0.6 },
    ]);
  });

  it('summarizes start vs end per metric', () => {
    const rows = summarize(records);
    expect(rows.map((r) => r.metric)).toEqual(['reward/mean', 'entropy/exact', 'entropy/nll', 'eval/pass@1', 'eval/pass@4']);
    const reward = rows[0]!;
    expect([reward.start, reward.startStep, reward.end, reward.endStep]).toEqual([0.1, 1, 0.5, 3]);
    const pass1 = rows[3]!;
    expect([pass1.start, pass1.end]).toEqual([0.2, 0.4]);
    const table = formatSummaryTable(rows);
    expect(table).toContain('reward/mean');
    expect(table).toMatch(/eval\/pass@4\s+0\.4500 \(step 0\)\s+0\.6000 \(step 3\)\s+\+0\.1500/);
  });

  it('averages noisy per-step metrics over windows and adds a moving average to the reward chart', () => {
    const long: StepRecord[] = Array.from({ length: 30 }, (_, i) => ({ step: i + 1, metrics: { 'reward/mean': i + 1 } }));
    const [row] = summarize(long);
    expect(row).toMatchObject({ start: 5.5, end: 25.5, window: 10, startStep: 10, endStep: 30 });
    expect(formatSummaryTable([row!])).toMatch(/5\.5000 \(steps 1-10\)\s+25\.5000 \(steps 21-30\)\s+\+20\.0000/);
    const reward = collectCharts(long).find((c) => c.definition.id === 'reward')!;
    const smooth = reward.series.get('10-step average')!;
    expect(smooth[0]).toEqual({ step: 1, value: 1 });
    expect(smooth[29]).toEqual({ step: 30, value: 25.5 });
  });

  it('writes report.html and valid SVG charts with the expected series', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rft-report-'));
    dirs.push(dir);
    const out = await writeReport(dir, { title: 'test run', records, config: { seed: 1 }, facts: { backend: 'cpu' }, entropyTarget: 0.5 });
    expect(Object.keys(out.charts).sort()).toEqual(['entropy', 'group-myreg', 'group-train', 'pass-at-k', 'reward', 'temperature']);
    for (const path of Object.values(out.charts)) {
      const svg = await readFile(path, 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
      expect(unbalancedTags(svg)).toEqual([]);
    }
    const entropy = svgParts(await readFile(out.charts.entropy!, 'utf8'));
    // Legend labels name both estimators; one line path per series with 3 points each.
    expect(entropy.texts).toEqual(expect.arrayContaining(['exact (softmax)', 'nll (sampled tokens)']));
    expect(entropy.lines).toHaveLength(2);
    // Three points per series: a move and two line segments.
    for (const d of entropy.lines) expect(d.match(/[ML]/g)).toHaveLength(3);
    // The controller's target as a labelled line.
    expect(entropy.texts).toContain('target 0.5');
    // Every other key charted by its prefix (a custom regularizer's too); keys without one under 'train'.
    expect(svgParts(await readFile(out.charts['group-myreg']!, 'utf8')).texts).toContain('myreg/score');
    expect(svgParts(await readFile(out.charts['group-train']!, 'utf8')).texts).toContain('loss');
    const passAt = svgParts(await readFile(out.charts['pass-at-k']!, 'utf8'));
    expect(passAt.texts).toEqual(expect.arrayContaining(['pass@1', 'pass@4']));
    const html = await readFile(out.reportPath, 'utf8');
    expect(html).toContain('<h2>Summary</h2>');
    expect(html).toContain('reward/mean');
    expect((html.match(/<svg/g) ?? []).length).toBe(6);
    expect(html).toContain('&quot;seed&quot;: 1');
  });
});
