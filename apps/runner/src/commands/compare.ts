import { resolve } from 'node:path';
import { ConfigError } from '@rftkit/core';
import type { CliIO } from '../io';
import { type ComparedRun, formatCompareTable, labelRuns, readRunFolder, writeComparePage } from '../report/compare';
import { displayPath } from './train';

export interface CompareOptions {
  /** The HTML page (default: compare.html in the working folder). */
  out?: string;
}

export interface CompareResult {
  runs: ComparedRun[];
  table: string;
  pagePath: string;
}

/** `rft compare <run> <run> ...`: prints the comparison table and writes one HTML page overlaying the runs. */
export async function runCompare(dirs: readonly string[], options: CompareOptions, io: CliIO): Promise<CompareResult> {
  if (dirs.length < 2) throw new ConfigError('rft compare', [{ path: '<runs>', message: `needs at least two run folders, got ${dirs.length}` }]);
  // Every folder is checked before any page is written.
  const runs = labelRuns(await Promise.all(dirs.map((d) => readRunFolder(d))));
  const table = formatCompareTable(runs);
  const pagePath = await writeComparePage(resolve(options.out ?? 'compare.html'), runs);
  io.out(table);
  io.out('');
  io.out(`compare: ${displayPath(pagePath)}`);
  return { runs, table, pagePath };
}
