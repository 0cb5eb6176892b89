import type { z } from 'zod';

/** A path segment of a config field: object key or array index. */
export type PathSegment = string | number;

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  valueType?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  left?: z.ZodType;
  right?: z.ZodType;
  getter?: () => z.ZodType;
}

function def(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** Strips wrappers that do not change the shape of a value (optional, default, pipe, ...). */
export function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (let i = 0; i < 32; i++) {
    const d = def(s);
    if (d.innerType && ['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch', 'nonoptional'].includes(d.type)) {
      s = d.innerType;
    } else if (d.type === 'pipe' && d.in) {
      s = d.in;
    } else if (d.type === 'lazy' && d.getter) {
      s = d.getter();
    } else {
      return s;
    }
  }
  return s;
}

/** The object shapes a schema may take (several for unions). */
function shapes(schema: z.ZodType): Array<{ keys: string[]; child(key: string): z.ZodType | undefined; open: boolean }> {
  const s = unwrap(schema);
  const d = def(s);
  if (d.type === 'object' && d.shape) {
    const shape = d.shape;
    const open = d.catchall !== undefined && def(d.catchall).type !== 'never';
    return [{ keys: Object.keys(shape), child: (k) => shape[k] ?? (open ? d.catchall : undefined), open }];
  }
  if (d.type === 'record' && d.valueType) {
    const value = d.valueType;
    return [{ keys: [], child: () => value, open: true }];
  }
  if (d.type === 'union' && d.options) return d.options.flatMap(shapes);
  if (d.type === 'intersection' && d.left && d.right) return [...shapes(d.left), ...shapes(d.right)];
  return [];
}

/** Keys an object schema declares (union members merged); empty when it is not an object. */
export function objectKeys(schema: z.ZodType): string[] {
  return [...new Set(shapes(schema).flatMap((s) => s.keys))];
}

/** True when the schema accepts keys it does not declare (records, catch-alls). */
export function acceptsAnyKey(schema: z.ZodType): boolean {
  return shapes(schema).some((s) => s.open);
}

export type WalkResult = { ok: true; schema: z.ZodType } | { ok: false; at: number; allowed: string[] };

/**
 * Follows `path` through a schema. Fails at the first segment the schema does not
 * declare, returning its index and the keys allowed there.
 */
export function schemaAt(schema: z.ZodType, path: readonly PathSegment[]): WalkResult {
  let current = schema;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const d = def(unwrap(current));
    if (d.type === 'array' && d.element) {
      if (typeof seg !== 'number') return { ok: false, at: i, allowed: ['an array index [n]'] };
      current = d.element;
      continue;
    }
    if (d.type === 'tuple') return { ok: true, schema: current };
    const candidates = shapes(current)
      .map((s) => s.child(String(seg)))
      .filter((c): c is z.ZodType => c !== undefined);
    if (candidates.length === 0) return { ok: false, at: i, allowed: objectKeys(current) };
    // Members of a union may declare the same key with different schemas; the first is
    // enough to go on walking, and the final value is validated by the full parse.
    current = candidates[0]!;
  }
  return { ok: true, schema: current };
}

/** Formats a path as written in configs: `regularizers[0].with.target`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out;
}

/** Parses `a.b[2].c` (or `a.b.2.c`) into segments; throws on malformed text. */
export function parsePath(text: string): PathSegment[] {
  const out: PathSegment[] = [];
  for (const part of text.split('.')) {
    const m = /^([A-Za-z_$][\w$-]*|\d+)?((?:\[\d+\])*)$/.exec(part);
    if (!m || (m[1] === undefined && m[2] === '')) throw new Error(`malformed path '${text}'`);
    if (m[1] !== undefined) out.push(/^\d+$/.test(m[1]) ? Number(m[1]) : m[1]);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}
