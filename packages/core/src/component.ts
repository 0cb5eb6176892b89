import type { z } from 'zod';
import { parseOptions, strictOptions } from './options';

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
 * Defines a component: `build` receives options already validated and defaulted by
 * `schema`. Errors in options name the component and field (see `OptionsError`).
 * A plain `z.object` schema is made strict: an unknown option (a typo) is an error that
 * lists the allowed names, never silently dropped. Use `z.looseObject` to accept extra keys.
 */
export function defineComponent<TFamily extends ComponentFamily, TSchema extends z.ZodType, TComponent>(spec: {
  id: string;
  family: TFamily;
  description: string;
  schema: TSchema;
  build: (options: z.output<TSchema>) => TComponent;
}): ComponentDefinition<TFamily, TSchema, TComponent> {
  const schema = strictOptions(spec.schema);
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
