import { defineConfig } from 'tsup';
import { packageConfig } from '../../tsup.base.ts';

export default defineConfig(packageConfig({ entry: { cli: 'src/cli.ts', index: 'src/index.ts' } }));
