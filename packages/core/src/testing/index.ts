export { describeBackends, testBackends } from './backends';
export { expectAllClose } from './close';
export { expectNoLeaks } from './leaks';
