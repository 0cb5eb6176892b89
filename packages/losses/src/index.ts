// Public API of @rftkit/losses.
export {};
