// Public API of @rftkit/advantages.
export {};
