import { defineConfig } from 'tsup';
import { packageConfig } from '../../tsup.base.ts';

export default defineConfig(
  packageConfig({
    entry: { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts' },
    // tfjs-core ships its gradient registrations only as extensionless ESM, which plain
    // Node cannot load; bundle them (they write into tfjs' global registries).
    noExternal: [/register_all_gradients/],
    splitting: true,
  }),
);
