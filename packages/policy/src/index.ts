// Public API of @rftkit/policy.
export {};
