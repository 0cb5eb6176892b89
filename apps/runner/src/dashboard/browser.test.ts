import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dashboard, startDashboard } from './server';

/** Debian's chromium (`apt-get install -y chromium`); CI installs it (.ci/run), elsewhere the test skips. */
const CHROMIUM = process.env.RFTKIT_CHROMIUM ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
/** Set by .ci/run: there a missing chromium fails instead of skipping. */
const required = process.env.RFTKIT_REQUIRE_CHROMIUM === '1';
if (!hasChromium && !required) {
  console.warn(`dashboard browser test skipped: no chromium at ${CHROMIUM} (apt-get install -y chromium, or set RFTKIT_CHROMIUM)`);
}

it.runIf(!hasChromium && required)('chromium is installed where RFTKIT_REQUIRE_CHROMIUM=1 (CI)', () => {
  expect.fail(`no chromium at ${CHROMIUM}: apt-get install -y chromium, or set RFTKIT_CHROMIUM`);
});

const line = (row: object) => `${JSON.stringify(row)}\n`;

let base: string;
let dash: Dashboard;
let browser: BrowserContext;

describe.skipIf(!hasChromium)(`dashboard in headless Chromium (${CHROMIUM})`, () => {
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'rft-dash-e2e-'));
    const runs = join(base, 'runs');
    for (const [name, offset] of [['grpo-a', 0], ['aepo-b', 0.05]] as const) {
      const dir = join(runs, name);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'config.json'), JSON.stringify({ task: { use: 'countdown' }, advantage: { use: 'grpo' }, trainer: { steps: 10 } }));
      await writeFile(
        join(dir, 'metrics.jsonl'),
        [1, 2, 3].map((step) => line({ step, 'reward/mean': 0.1 * step + offset, 'entropy/exact': 0.5 - 0.01 * step, loss: -step })).join(''),
      );
      await writeFile(join(dir, 'eval.jsonl'), line({ step: 0, 'eval/pass@1': 0.1 + offset }));
    }
    await writeFile(join(runs, 'grpo-a', 'samples.jsonl'), line({ step: 3, prompt: 'Use 3 5 7 to make 22', completion: '3*5+7', reward: 1, length: 5 }));
    dash = await startDashboard({ runsDir: runs, port: 0, pollMs: 100 });
    browser = await chromium.launchPersistentContext(join(base, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      viewport: { width: 1280, height: 900 },
    });
  });

  afterAll(async () => {
    await browser?.close();
    await dash?.close();
    await rm(base, { recursive: true, force: true });
  });

  it('loads without console errors, lists two runs, and a chart gains a point when metrics.jsonl grows', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(dash.url);

    await page.locator('#runs tbody tr.run-row').nth(1).waitFor();
    expect(await page.locator('#runs tbody tr.run-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run')))).toEqual(['aepo-b', 'grpo-a']);
    const chart = page.locator('.chart[data-metric="reward/mean"]');
    // Both runs overlaid: 3 points each.
    await expect.poll(() => chart.getAttribute('data-points')).toBe('6');
    expect(await chart.locator('canvas').count()).toBe(1);
    expect(await page.locator('.chart[data-metric="eval/pass@1"]').getAttribute('data-points')).toBe('2');
    await expect.poll(() => page.locator('#samples tbody tr').count()).toBe(1);
    expect(await page.locator('#samples tbody').textContent()).toContain('3*5+7');

    await appendFile(join(base, 'runs', 'grpo-a', 'metrics.jsonl'), line({ step: 4, 'reward/mean': 0.45, 'entropy/exact': 0.46, loss: -4 }));
    await expect.poll(() => chart.getAttribute('data-points'), { timeout: 10_000 }).toBe('7');
    await expect.poll(() => page.locator('#runs tr[data-run="grpo-a"]').textContent()).toContain('4 / 10');

    // Unticking a run takes it off the charts.
    await page.locator('#runs tr[data-run="aepo-b"]').click();
    await expect.poll(() => chart.getAttribute('data-points')).toBe('4');
    expect(errors).toEqual([]);
  });

  it('says so when the runs folder does not exist', async () => {
    const missing = await startDashboard({ runsDir: join(base, 'nowhere'), port: 0, pollMs: 100 });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      await page.goto(missing.url);
      await expect.poll(() => page.locator('#notice').textContent()).toContain('does not exist yet');
      expect(await page.locator('#notice').isVisible()).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await missing.close();
    }
  });
});
