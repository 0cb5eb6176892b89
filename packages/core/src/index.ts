export * from './batch';
export * from './component';
export * from './errors';
export * from './fs/atomic';
export * from './math/masked';
export * from './options';
export * from './registry';
export * from './rng';
export type * from './spec/index';
