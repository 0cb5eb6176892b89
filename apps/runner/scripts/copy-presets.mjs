#!/usr/bin/env node
// Copies the repository's presets (configs/) and the base policies they start from
// (checkpoints/) into the package, side by side as in the repository, so the published
// package resolves `rft train aepo` and its `../checkpoints/countdown-base` by itself.
import { cpSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const pkg = resolve(import.meta.dirname, '..');
const repo = resolve(pkg, '..', '..');
for (const dir of ['configs', 'checkpoints']) {
  rmSync(join(pkg, dir), { recursive: true, force: true });
  cpSync(join(repo, dir), join(pkg, dir), { recursive: true });
}
