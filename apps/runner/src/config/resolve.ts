import { ConfigError, type FieldIssue, type Registry } from '@rftkit/core';
import type { z } from 'zod';
import { getAtPath, type Override, setAtPath } from './overrides';
import { createRunConfigSchema, type ComponentRefConfig, hfPolicyOptionsSchema, type PolicyConfig } from './schema';
import { acceptsAnyKey, formatPath, objectKeys, type PathSegment, schemaAt } from './schema-walk';

/** The registries a config's component ids are looked up in, by family. */
export interface RegistrySet {
  task: Registry;
  reward: Registry;
  advantage: Registry;
  loss: Registry;
  aggregation: Registry;
  kl: Registry;
  regularizer: Registry;
  sampler: Registry;
}

export interface ResolveContext {
  registries: RegistrySet;
  /** The trainer's settings schema (`trainerConfigSchema`). */
  trainerSchema: z.ZodType;
  /** Options of a fresh transformer policy, without the tokenizer. */
  policySchema: z.ZodType;
  /** Where the config came from, for messages (`configs/grpo.yaml`). */
  source: string;
}

/** A validated config: every default filled, component options parsed by their schemas. */
export interface ResolvedRunConfig {
  name?: string;
  seed: number;
  backend: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  task: ComponentRefConfig;
  policy: PolicyConfig;
  data: { trainPrompts: number; testPrompts: number };
  /** Absent: the engine's defaults (the policy's chat template when it has one, no system prompt). */
  rollout?: { chatTemplate: boolean; systemPrompt?: string };
  reference: boolean;
  reward?: ComponentRefConfig;
  advantage: ComponentRefConfig;
  loss: ComponentRefConfig;
  aggregation: ComponentRefConfig;
  regularizers: ComponentRefConfig[];
  trainer: Record<string, unknown>;
  components: string[];
  allowPackageComponents: boolean;
}

/** Config keys holding one component, and the family each is looked up in. */
const SINGLE_REFS: Array<[key: string, family: keyof RegistrySet]> = [
  ['task', 'task'],
  ['reward', 'reward'],
  ['advantage', 'advantage'],
  ['loss', 'loss'],
  ['aggregation', 'aggregation'],
];

export interface ZodIssueLike {
  code: string;
  path: PropertyKey[];
  message: string;
  keys?: string[];
  errors?: ZodIssueLike[][];
}

function toSegments(path: PropertyKey[]): PathSegment[] {
  return path.map((p) => (typeof p === 'number' ? p : String(p)));
}

/** zod issues → field issues whose messages say what is allowed. */
export function describeIssues(
  issues: readonly ZodIssueLike[],
  schema: z.ZodType,
  prefix: PathSegment[],
  raw: unknown,
): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const issue of issues) {
    const at = toSegments(issue.path);
    if (issue.code === 'unrecognized_keys' && issue.keys) {
      const walked = schemaAt(schema, at);
      const allowed = walked.ok ? objectKeys(walked.schema) : [];
      for (const key of issue.keys) {
        out.push({
          path: formatPath([...prefix, ...at, key]),
          message: `unknown field; allowed: ${allowed.join(', ') || '(none)'}`,
        });
      }
    } else if (issue.code === 'invalid_union' && issue.errors && formatPath(at) === 'policy' && prefix.length === 0) {
      const value = getAtPath(raw, at);
      const branch =
        typeof value === 'object' && value !== null ? ('checkpoint' in value ? 0 : 'use' in value ? ((value as { use?: unknown }).use === 'hf' ? 2 : 1) : -1) : -1;
      const chosen = branch >= 0 ? issue.errors[branch] : undefined;
      if (chosen && chosen.length > 0) {
        out.push(...describeIssues(chosen.map((i) => ({ ...i, path: [...at, ...i.path] })), schema, prefix, raw));
      } else {
        out.push({
          path: 'policy',
          message: "expected { checkpoint: <folder> }, { use: 'transformer', with: { ... } } or { use: 'hf', with: { model } }",
        });
      }
    } else if (issue.code === 'invalid_union' && issue.errors && issue.errors.length > 0) {
      // "Invalid input" says nothing: report the branch that got furthest (its deepest issue).
      const depth = (branch: ZodIssueLike[]) => Math.max(...branch.map((i) => i.path.length));
      const best = issue.errors.reduce((a, b) => (depth(b) > depth(a) ? b : a));
      if (best.length > 0 && depth(best) > 0) {
        out.push(...describeIssues(best.map((i) => ({ ...i, path: [...at, ...i.path] })), schema, prefix, raw));
      } else {
        out.push({ path: formatPath([...prefix, ...at]), message: issue.message });
      }
    } else if (issue.code === 'invalid_type' && typeof getAtPath(raw, at) === 'number') {
      out.push({ path: formatPath([...prefix, ...at]), message: 'must be a finite number' });
    } else {
      out.push({ path: formatPath([...prefix, ...at]), message: issue.message });
    }
  }
  return out;
}

/** Validates a component reference's id and options; returns the parsed options. */
export function resolveComponent(
  ref: ComponentRefConfig,
  registry: Registry,
  at: PathSegment[],
  issues: FieldIssue[],
): Record<string, unknown> | undefined {
  if (!registry.has(ref.use)) {
    issues.push({
      path: formatPath([...at, 'use']),
      message: `unknown ${registry.family} '${ref.use}'; available: ${registry.ids().join(', ') || '(none registered)'}`,
    });
    return undefined;
  }
  return resolveOptions(registry.get(ref.use).schema as z.ZodType, ref.with, [...at, 'with'], `${registry.family} '${ref.use}'`, issues);
}

/** Validates options against a schema, rejecting unknown keys; returns the parsed options. */
export function resolveOptions(
  schema: z.ZodType,
  options: Record<string, unknown>,
  at: PathSegment[],
  owner: string,
  issues: FieldIssue[],
): Record<string, unknown> | undefined {
  const keys = objectKeys(schema);
  let bad = false;
  // zod objects drop unknown keys silently; a typo in an option must not pass unnoticed.
  if (keys.length > 0 && !acceptsAnyKey(schema)) {
    for (const key of Object.keys(options)) {
      if (!keys.includes(key)) {
        issues.push({ path: formatPath([...at, key]), message: `unknown option of ${owner}; allowed: ${keys.join(', ')}` });
        bad = true;
      }
    }
  }
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    // Unknown top-level keys are reported above already (strict schemas report them again).
    const rest = (parsed.error.issues as unknown as ZodIssueLike[]).filter((i) => !(bad && i.code === 'unrecognized_keys' && i.path.length === 0));
    issues.push(...describeIssues(rest, schema, at, options));
    return undefined;
  }
  return bad ? undefined : (parsed.data as Record<string, unknown>);
}

/**
 * Validates a raw config (parsed YAML/JSON with overrides applied): the config's own
 * fields, every component id against its registry, every component's options against
 * its schema. Throws one `ConfigError` listing every bad field; returns the config with
 * all defaults filled.
 */
export function resolveRunConfig(raw: unknown, context: ResolveContext): ResolvedRunConfig {
  const schema = createRunConfigSchema(context.trainerSchema);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issues = describeIssues(parsed.error.issues as unknown as ZodIssueLike[], schema as unknown as z.ZodType, [], raw);
    // Check components too, so one run of the command reports every mistake.
    const taken = (path: string) => issues.some((i) => i.path === path || i.path.startsWith(`${path}.`) || i.path.startsWith(`${path}[`));
    const componentIssues: FieldIssue[] = [];
    checkComponents(raw as Record<string, unknown>, context, componentIssues, taken);
    throw new ConfigError(context.source, [...issues, ...componentIssues]);
  }
  const config = parsed.data as unknown as ResolvedRunConfig;
  const issues: FieldIssue[] = [];
  checkComponents(config as unknown as Record<string, unknown>, context, issues, () => false);
  if (issues.length > 0) throw new ConfigError(context.source, issues);
  return config;
}

function isRef(value: unknown): value is ComponentRefConfig {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.use === 'string' && (v.with === undefined || (typeof v.with === 'object' && v.with !== null && !Array.isArray(v.with)));
}

/** Resolves every component reference in place (options parsed, defaults filled). */
function checkComponents(
  config: Record<string, unknown>,
  context: ResolveContext,
  issues: FieldIssue[],
  skip: (path: string) => boolean,
): void {
  const r = context.registries;
  const visit = (ref: unknown, at: PathSegment[], registry: Registry) => {
    if (!isRef(ref) || skip(formatPath(at))) return;
    const options = resolveComponent({ use: ref.use, with: ref.with ?? {} }, registry, at, issues);
    if (options) ref.with = options;
  };
  for (const [key, family] of SINGLE_REFS) visit(config[key], [key], r[family]);
  if (Array.isArray(config.regularizers)) {
    config.regularizers.forEach((ref, i) => {
      visit(ref, ['regularizers', i], r.regularizer);
    });
  }
  const policy = config.policy as Record<string, unknown> | undefined;
  if (policy && policy.use === 'transformer' && !skip('policy')) {
    const raw = policy.with ?? {};
    if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
      const options = resolveOptions(context.policySchema, raw as Record<string, unknown>, ['policy', 'with'], "policy 'transformer'", issues);
      if (options) policy.with = options;
    }
  }
}

/**
 * The schema of the field an override names, or an issue when the config has no such
 * field. Component options are checked against the schema of the component the config
 * (with earlier overrides applied) names at that place.
 */
export function checkOverridePath(raw: unknown, override: Override, context: ResolveContext): FieldIssue | undefined {
  const path = override.path;
  const top = createRunConfigSchema(context.trainerSchema) as unknown as z.ZodType;
  const withIndex = path.indexOf('with');
  const componentAt = withIndex > 0 ? path.slice(0, withIndex) : undefined;
  let schema: z.ZodType = top;
  let rest: PathSegment[] = path;
  if (componentAt && withIndex < path.length - 1) {
    const owner = componentSchema(raw, componentAt, context);
    if (owner) {
      schema = owner;
      rest = path.slice(withIndex + 1);
    }
  }
  const walked = schemaAt(schema, rest);
  if (walked.ok) return undefined;
  const offset = path.length - rest.length;
  const failedAt = formatPath(path.slice(0, offset + walked.at + 1));
  return {
    path: override.text,
    message: `no field '${failedAt}' in the config; allowed at '${formatPath(path.slice(0, offset + walked.at)) || '(root)'}': ${walked.allowed.join(', ') || '(none)'}`,
  };
}

function componentSchema(raw: unknown, at: PathSegment[], context: ResolveContext): z.ZodType | undefined {
  const key = at[0];
  if (key === 'policy' && at.length === 1) {
    return getAtPath(raw, ['policy', 'use']) === 'hf' ? (hfPolicyOptionsSchema as unknown as z.ZodType) : context.policySchema;
  }
  const family: keyof RegistrySet | undefined =
    key === 'regularizers' && at.length === 2
      ? 'regularizer'
      : at.length === 1
        ? SINGLE_REFS.find(([k]) => k === key)?.[1]
        : undefined;
  if (!family) return undefined;
  const use = getAtPath(raw, [...at, 'use']);
  const registry = context.registries[family];
  if (typeof use !== 'string' || !registry.has(use)) return undefined;
  return registry.get(use).schema as z.ZodType;
}

/** Applies overrides to a raw config, rejecting paths the config does not have. */
export function applyOverrides(raw: Record<string, unknown>, overrides: readonly Override[], context: ResolveContext): void {
  for (const o of overrides) {
    const issue = checkOverridePath(raw, o, context);
    if (issue) throw new ConfigError(`--set ${o.text}`, [issue]);
    setAtPath(raw, o.path, o.value);
  }
}

