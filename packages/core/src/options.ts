import type { z } from 'zod';
import { OptionsError, type FieldIssue } from './errors';

/** Turns zod issues into `FieldIssue`s whose paths read like config paths (`a.b[2].c`). */
export function zodIssues(error: z.ZodError, prefix = ''): FieldIssue[] {
  return error.issues.map((issue) => {
    let path = prefix;
    for (const key of issue.path) {
      if (typeof key === 'number') path += `[${key}]`;
      else path += path ? `.${String(key)}` : String(key);
    }
    return { path, message: issue.message };
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
