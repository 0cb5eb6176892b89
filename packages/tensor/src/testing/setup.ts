// Vitest setup for every rftkit package: gradients registered, cpu and wasm loadable.
import { registerGradients } from '../backend';

await registerGradients();
