import type { z } from 'zod';
import { parseOptions } from './options';

/** The families of swappable components. A registry holds one family. */
export type ComponentFamily =
  | 'policy'
  | 'tokenizer'
  | 'rollout'
  | 'sampler'
  | 'reward'
  | 'advantage'
  | 'loss'
  | 'aggregation'
  | 'kl'
  | 'regularizer'
  | 'task'
  | 'optimizer';

/** Version of the component spec. Bumped when a family's interface changes incompatibly. */
export const SPEC_VERSION = 1;

/**
 * A component definition: what a package exports for each implementation, and what a
 * registry holds. `create` validates options through `schema` (filling documented
 * defaults) and returns the component.
 */
export interface ComponentDefinition<
  TFamily extends ComponentFamily = ComponentFamily,
  TSchema extends z.ZodType = z.ZodType,
  TComponent = unknown,
> {
  readonly id: string;
  readonly family: TFamily;
  /** One line, shown by `rft list`. */
  readonly description: string;
  readonly schema: TSchema;
  readonly specVersion: number;
  create(options?: z.input<TSchema>): TComponent;
}

/**
 * A plain `z.object` (no catchall) made strict, so a misspelt option fails instead of being
 * dropped. `z.looseObject` / `.loose()` / `.catchall()` are an explicit opt-out and are kept;
 * other schemas (unions, refined or transformed objects) are used as given.
 */
function strictByDefault<S extends z.ZodType>(schema: S): S {
  const def = (schema as unknown as { _zod?: { def?: { type?: string; catchall?: unknown } } })._zod?.def;
  if (def?.type !== 'object' || def.catchall !== undefined) return schema;
  return (schema as unknown as z.ZodObject).strict() as unknown as S;
}

/**
 * Defines a component: `build` receives options already validated and defaulted by
 * `schema`. Errors in options name the component and field (see `OptionsError`).
 * A plain `z.object` schema rejects unknown keys (see `strictByDefault`); pass
 * `z.looseObject(...)` to accept and keep them.
 */
export function defineComponent<TFamily extends ComponentFamily, TSchema extends z.ZodType, TComponent>(spec: {
  id: string;
  family: TFamily;
  description: string;
  schema: TSchema;
  build: (options: z.output<TSchema>) => TComponent;
}): ComponentDefinition<TFamily, TSchema, TComponent> {
  const schema = strictByDefault(spec.schema);
  return {
    id: spec.id,
    family: spec.family,
    description: spec.description,
    schema,
    specVersion: SPEC_VERSION,
    create: (options) => spec.build(parseOptions(`${spec.family}:${spec.id}`, schema, options)),
  };
}

/** How configs name a component: `{ use: 'grpo', with: { eps: 1e-6 } }`. */
export interface ComponentRef {
  use: string;
  with?: Record<string, unknown>;
}
