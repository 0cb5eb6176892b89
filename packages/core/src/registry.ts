import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ComponentDefinition, ComponentFamily, ComponentRef } from './component';
import { ComponentModuleError, DuplicateComponentError, UnknownComponentError } from './errors';

/**
 * A family's registry. Built explicitly from definitions (nothing registers itself on
 * import), so what a run can use is exactly what its composition root put in.
 */
export class Registry<TComponent = unknown> {
  readonly family: ComponentFamily;
  readonly #items = new Map<string, ComponentDefinition<ComponentFamily, never, TComponent>>();

  constructor(family: ComponentFamily, definitions: Iterable<ComponentDefinition> = []) {
    this.family = family;
    for (const d of definitions) this.register(d);
  }

  register(definition: ComponentDefinition): this {
    if (definition.family !== this.family) {
      throw new ComponentModuleError(
        definition.id,
        `it is a '${definition.family}' component, not a '${this.family}' component`,
      );
    }
    if (this.#items.has(definition.id)) throw new DuplicateComponentError(this.family, definition.id);
    this.#items.set(definition.id, definition as ComponentDefinition<ComponentFamily, never, TComponent>);
    return this;
  }

  has(id: string): boolean {
    return this.#items.has(id);
  }

  ids(): string[] {
    return [...this.#items.keys()].sort();
  }

  get(id: string): ComponentDefinition<ComponentFamily, never, TComponent> {
    const found = this.#items.get(id);
    if (!found) throw new UnknownComponentError(this.family, id, this.ids());
    return found;
  }

  /** Creates a component from its config reference; options are validated by its schema. */
  create(ref: ComponentRef | string): TComponent {
    const { use, with: options } = typeof ref === 'string' ? { use: ref, with: undefined } : ref;
    const def = this.get(use) as unknown as ComponentDefinition<ComponentFamily, never, TComponent> & {
      create(o?: unknown): TComponent;
    };
    return def.create(options);
  }

  list(): Array<{ id: string; description: string }> {
    return this.ids().map((id) => ({ id, description: this.get(id).description }));
  }
}

function isDefinition(value: unknown): value is ComponentDefinition {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.id === 'string' && typeof v.family === 'string' && typeof v.create === 'function';
}

/**
 * Loads user components from a module: `./my-components.js` (every exported definition)
 * or `./my-components.js#myAdvantage` (one named export). Relative paths resolve against
 * `baseDir` (the config file's folder). Bare specifiers are imported as packages.
 */
export async function loadComponentModule(
  specifier: string,
  options: { baseDir?: string; family?: ComponentFamily } = {},
): Promise<ComponentDefinition[]> {
  const [path = '', exportName] = specifier.split('#');
  const isFile = path.startsWith('.') || isAbsolute(path);
  const target = isFile ? pathToFileURL(resolve(options.baseDir ?? process.cwd(), path)).href : path;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(target)) as Record<string, unknown>;
  } catch (cause) {
    throw new ComponentModuleError(specifier, `import failed (${(cause as Error).message})`, { cause });
  }
  const candidates = exportName ? [mod[exportName]] : Object.values(mod);
  if (exportName && candidates[0] === undefined) {
    throw new ComponentModuleError(
      specifier,
      `no export named '${exportName}'. Exports: ${Object.keys(mod).join(', ') || '(none)'}`,
    );
  }
  const defs = candidates.filter(isDefinition).filter((d) => !options.family || d.family === options.family);
  if (defs.length === 0) {
    throw new ComponentModuleError(
      specifier,
      `it exports no ${options.family ?? ''} component definition (an object with id, family, create; use defineComponent)`,
    );
  }
  return defs;
}
