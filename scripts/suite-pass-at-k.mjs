// Prints, for a finished `rft reproduce` suite folder, pass@k at the last evaluation of each
// configuration (mean ± sample sd over its seeds) beside the base policy's (the step-0
// evaluation, over the seeds), as the Markdown table docs/results.md shows.
//   node scripts/suite-pass-at-k.mjs runs/reproduce-paper-sort
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const out = process.argv[2];
if (!out || !existsSync(join(out, 'runs'))) {
  console.error('usage: node scripts/suite-pass-at-k.mjs <suite out folder with runs/>');
  process.exit(2);
}
const evals = (dir) => readFileSync(join(dir, 'eval.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const meanSd = (xs) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)) : 0;
  return `${m.toFixed(3)} ± ${sd.toFixed(3)}`;
};
// The suite's order where its summary.json exists, else alphabetical.
const summary = join(out, 'summary.json');
const groups = existsSync(summary) ? JSON.parse(readFileSync(summary, 'utf8')).groups.map((g) => g.group) : readdirSync(join(out, 'runs')).sort();
const seedDirs = (g) => readdirSync(join(out, 'runs', g)).filter((d) => d.startsWith('seed-')).map((d) => join(out, 'runs', g, d));
const firstRows = seedDirs(groups[0]).map((d) => evals(d)[0]);
const ks = Object.keys(firstRows[0]).filter((k) => /^eval\/pass@\d+$/.test(k)).sort((a, b) => Number(a.split('@')[1]) - Number(b.split('@')[1]));
const row = (name, rows) => `| ${name} | ${ks.map((k) => meanSd(rows.map((r) => r[k]))).join(' | ')} |`;
console.log(`| run | ${ks.map((k) => k.slice(5)).join(' | ')} |`);
console.log(`|---|${ks.map(() => '---').join('|')}|`);
console.log(row('base (step 0)', firstRows));
for (const g of groups) console.log(row(g, seedDirs(g).map((d) => evals(d).at(-1))));
