// Public API of @rftkit/tasks.
export {};
