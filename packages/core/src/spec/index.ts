export type * from './advantage';
export type * from './batch';
export type * from './loss';
export type * from './policy';
export type * from './regularizer';
export type * from './reward';
export type * from './rollout';
export type * from './task';
