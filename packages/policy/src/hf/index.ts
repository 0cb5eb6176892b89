export type { Arch, HfParam } from './arch';
export { archFor, createHfPolicy, type HfPolicy, type HfPolicyMeta } from './policy';
export { type ExportHfPolicyOptions, exportHfPolicy, type LoadHfPolicyOptions, loadHfPolicy } from './load';
