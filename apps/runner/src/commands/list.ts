import type { RegistrySet } from '../config/resolve';
import { FAMILY_TITLES } from '../registries';

/** Every registered component by family, one line each: `  id  description`. */
export function formatComponentList(registries: RegistrySet): string {
  const lines: string[] = [];
  for (const family of Object.keys(FAMILY_TITLES) as Array<keyof RegistrySet>) {
    const items = registries[family].list();
    lines.push(`${FAMILY_TITLES[family]}:`);
    if (items.length === 0) lines.push('  (none)');
    const width = Math.max(0, ...items.map((i) => i.id.length));
    for (const { id, description } of items) lines.push(`  ${id.padEnd(width)}  ${description}`);
    lines.push('');
  }
  lines.push("Policies (policy):\n  transformer  Decoder-only causal transformer over the task's characters; or { checkpoint: <folder> }.");
  return lines.join('\n');
}
