// Public API of @rftkit/rollout.
export {};
