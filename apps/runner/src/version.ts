import { createRequire } from 'node:module';

/** The rftkit package version, shown by `rft --version` and recorded in run.json. */
export const VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
