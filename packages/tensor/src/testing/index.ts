export { describeBackends, testBackends } from './backends';
export { expectAllClose } from './close';
export { expectNoLeaks } from './leaks';
export { seededTensor, seededUniform } from './random';
