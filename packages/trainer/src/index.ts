// Public API of @rftkit/trainer.
export {};
