import { readJsonl } from '@rftkit/trainer';
import type { SampleRow } from '@rftkit/trainer';

/** Rows of a run folder's samples.jsonl (none when it is missing); a torn last line is dropped. */
export async function readSamples(path: string): Promise<SampleRow[]> {
  const rows = await readJsonl(path);
  return rows.filter((r): r is SampleRow & Record<string, unknown> => typeof r.step === 'number' && typeof r.completion === 'string') as SampleRow[];
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Rows shown at most: the newest, so a long run's page stays small. */
export const SAMPLES_SHOWN = 400;

function table(rows: readonly SampleRow[]): string {
  const cell = (s: string) => `<td class="text">${escapeHtml(s)}</td>`;
  const body = rows
    .map(
      (r) =>
        `<tr class="${r.reward > 0 ? 'good' : 'bad'}"><td>${r.step}</td><td>${r.split}</td>${cell(r.prompt)}${cell(r.completion)}${cell(r.reference ?? '')}` +
        `<td>${Number.isFinite(r.reward) ? r.reward.toFixed(3) : String(r.reward)}</td><td>${r.length}${r.finishReason === 'length' ? ' (cut)' : ''}</td><td>${r.temperature}</td></tr>`,
    )
    .join('\n');
  return `<table class="samples"><tr><th>step</th><th>split</th><th>prompt</th><th>completion</th><th>reference</th><th>reward</th><th>tokens</th><th>T</th></tr>\n${body}\n</table>`;
}

/**
 * The report's samples section: the latest evaluation's responses and the latest
 * training responses, then every logged row (newest first, at most `SAMPLES_SHOWN`).
 */
export function samplesSection(rows: readonly SampleRow[]): string {
  if (rows.length === 0) return '<p>No samples logged (samples.jsonl is empty or missing).</p>';
  const latest = (split: SampleRow['split']) => {
    const of = rows.filter((r) => r.split === split);
    const step = of.at(-1)?.step;
    return of.filter((r) => r.step === step);
  };
  const parts: string[] = [];
  for (const [split, title] of [
    ['eval', 'Latest evaluation'],
    ['train', 'Latest training step'],
  ] as const) {
    const picked = latest(split);
    if (picked.length) parts.push(`<h3>${title} (step ${picked[0]!.step})</h3>\n${table(picked)}`);
  }
  const shown = rows.slice(-SAMPLES_SHOWN).reverse();
  parts.push(
    `<details><summary>All logged samples, newest first (${shown.length}${rows.length > shown.length ? ` of ${rows.length}` : ''})</summary>\n${table(shown)}\n</details>`,
  );
  return parts.join('\n');
}
