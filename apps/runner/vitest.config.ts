import { packageTestConfig } from '../../vitest.base.ts';

export default packageTestConfig({ timeoutMs: 300_000 });
