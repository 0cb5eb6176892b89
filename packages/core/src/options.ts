import type { z } from 'zod';
import { OptionsError, type FieldIssue } from './errors';

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  valueType?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
}

const def = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;
const WRAPPERS = ['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch', 'nonoptional'];

/** The schema at `path` inside `schema` (wrappers, arrays, records, unions followed); undefined when unknown. */
function schemaAt(schema: z.ZodType | undefined, path: readonly PropertyKey[]): z.ZodType | undefined {
  let s = schema;
  for (let i = 0; s && i < 64; i++) {
    const d = def(s);
    if (d.innerType && WRAPPERS.includes(d.type)) s = d.innerType;
    else if (d.type === 'pipe' && d.in) s = d.in;
    else break;
  }
  if (!s || path.length === 0) return s;
  const [head, ...rest] = path;
  const d = def(s);
  if (d.type === 'object' && d.shape) return schemaAt(d.shape[String(head)] ?? d.catchall, rest);
  if (d.type === 'array' && d.element) return schemaAt(d.element, rest);
  if (d.type === 'record' && d.valueType) return schemaAt(d.valueType, rest);
  if (d.type === 'union' && d.options) {
    for (const option of d.options) {
      const found = schemaAt(option, path);
      if (found) return found;
    }
  }
  return undefined;
}

/** Names an object schema declares (after wrappers), for "allowed: ..." messages. */
export function allowedKeys(schema: z.ZodType | undefined): string[] {
  const s = schemaAt(schema, []);
  if (!s) return [];
  const d = def(s);
  if (d.type === 'object' && d.shape) return Object.keys(d.shape);
  if (d.type === 'union' && d.options) return [...new Set(d.options.flatMap(allowedKeys))];
  return [];
}

/**
 * A plain (stripping) `z.object` made strict, so unknown keys are rejected instead of
 * dropped; other schemas (loose objects, records, unions, ...) are returned unchanged.
 */
export function strictOptions<S extends z.ZodType>(schema: S): S {
  const d = def(schema);
  if (d.type === 'object' && d.catchall === undefined) {
    return (schema as unknown as { strict(): S }).strict();
  }
  return schema;
}

function formatIssuePath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

/**
 * Turns zod issues into `FieldIssue`s whose paths read like config paths (`a.b[2].c`).
 * Given the schema, an unknown key gets its own issue listing the allowed names.
 */
export function zodIssues(error: z.ZodError, prefix = '', schema?: z.ZodType): FieldIssue[] {
  return error.issues.flatMap((issue): FieldIssue[] => {
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeys(schemaAt(schema, issue.path));
      const list = allowed.length > 0 ? `; allowed: ${allowed.join(', ')}` : '';
      return issue.keys.map((key) => ({ path: formatIssuePath(prefix, [...issue.path, key]), message: `unknown field${list}` }));
    }
    return [{ path: formatIssuePath(prefix, issue.path), message: issue.message }];
  });
}

/**
 * Validates a component's options against its schema and fills defaults.
 * Throws `OptionsError` naming the component and each bad field.
 */
export function parseOptions<S extends z.ZodType>(
  component: string,
  schema: S,
  options: unknown,
): z.output<S> {
  const result = schema.safeParse(options ?? {});
  if (!result.success) throw new OptionsError(component, zodIssues(result.error, '', schema));
  return result.data;
}
