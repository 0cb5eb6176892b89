// Public API of @rftkit/regularizers.
export {};
