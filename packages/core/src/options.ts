import type { z } from 'zod';
import { OptionsError, type FieldIssue } from './errors';

/** Turns zod issues into `FieldIssue`s whose paths read like config paths (`a.b[2].c`). */
export function zodIssues(error: z.ZodError, prefix = ''): FieldIssue[] {
  const join = (path: string, key: PropertyKey) =>
    typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${String(key)}` : String(key);
  return error.issues.flatMap((issue) => {
    const path = issue.path.reduce<string>(join, prefix);
    // One issue per unknown key, at the key's own path.
    if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ path: join(path, key), message: issue.message }));
    return [{ path, message: issue.message }];
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
  if (!result.success) throw new OptionsError(component, zodIssues(result.error));
  return result.data;
}
