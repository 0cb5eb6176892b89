import { createRequire } from 'node:module';
import { mergeConfig } from 'vitest/config';
import { packageTestConfig } from '../vitest.base.ts';

// zod is a dependency of the examples (user code defines component schemas with it);
// resolve it through @rftkit/core's copy so the examples run in a workspace that has not
// re-linked since it was added.
const zodEntry = createRequire(new URL('../packages/core/package.json', import.meta.url)).resolve('zod');

// Examples live at the folder root rather than under src/.
export default mergeConfig(packageTestConfig(), {
  resolve: { alias: [{ find: /^zod$/, replacement: zodEntry }] },
  test: { include: ['*.test.ts'] },
});
