// Public API of @rftkit/rewards.
export {};
