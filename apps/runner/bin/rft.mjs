#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const built = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');
if (!existsSync(built)) {
  console.error('rft: the workspace is not built yet. Run `pnpm build` first (once per checkout).');
  process.exit(1);
}
await import(pathToFileURL(built).href);
