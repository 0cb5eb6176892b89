import type { SelectedBackend } from '../backend';

/**
 * Kernel overrides installed when a backend is activated (faster paths for the shapes
 * rftkit's models use). Each override must give the same numbers as the kernel it
 * replaces, within float32 tolerance.
 */
export async function installKernels(_backend: SelectedBackend['name']): Promise<void> {}
