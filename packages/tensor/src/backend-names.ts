/** Backends `selectBackend` accepts (`auto` picks the best one installed). */
export type BackendName = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

/** A backend that can be active: any name but `auto`. */
export type ActiveBackendName = Exclude<BackendName, 'auto'>;
