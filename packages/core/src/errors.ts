/**
 * Every error rftkit throws on purpose is an `RftError` with a stable `code`, so callers
 * (and the CLI) can tell a bad config from a bad checkpoint without parsing messages.
 */
export type RftErrorCode =
  | 'E_OPTIONS'
  | 'E_CONFIG'
  | 'E_UNKNOWN_COMPONENT'
  | 'E_DUPLICATE_COMPONENT'
  | 'E_COMPONENT_MODULE'
  | 'E_BACKEND_UNAVAILABLE'
  | 'E_CHECKPOINT'
  | 'E_DATASET'
  | 'E_SHAPE'
  | 'E_REWARD'
  | 'E_STATE'
  | 'E_MEMORY'
  | 'E_COMPONENT';

export class RftError extends Error {
  readonly code: RftErrorCode;
  constructor(code: RftErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** One invalid field: `path` as written in the options/config, `message` says what is allowed. */
export interface FieldIssue {
  path: string;
  message: string;
}

function formatIssues(issues: readonly FieldIssue[]): string {
  return issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`).join('\n');
}

/** Options passed to a component factory are invalid. Names the component and each field. */
export class OptionsError extends RftError {
  readonly component: string;
  readonly issues: readonly FieldIssue[];
  constructor(component: string, issues: readonly FieldIssue[]) {
    super('E_OPTIONS', `Invalid options for component '${component}':\n${formatIssues(issues)}`);
    this.component = component;
    this.issues = issues;
  }
}

/** A config file (or `--set` override) is invalid. */
export class ConfigError extends RftError {
  readonly issues: readonly FieldIssue[];
  constructor(source: string, issues: readonly FieldIssue[]) {
    super('E_CONFIG', `Invalid config ${source}:\n${formatIssues(issues)}`);
    this.issues = issues;
  }
}

export class UnknownComponentError extends RftError {
  readonly family: string;
  readonly id: string;
  readonly available: readonly string[];
  constructor(family: string, id: string, available: readonly string[]) {
    super(
      'E_UNKNOWN_COMPONENT',
      `Unknown ${family} '${id}'. Available: ${available.length ? available.join(', ') : '(none registered)'}.`,
    );
    this.family = family;
    this.id = id;
    this.available = available;
  }
}

export class DuplicateComponentError extends RftError {
  constructor(family: string, id: string) {
    super('E_DUPLICATE_COMPONENT', `A ${family} with id '${id}' is already registered.`);
  }
}

export class ComponentModuleError extends RftError {
  constructor(modulePath: string, reason: string, options?: { cause?: unknown }) {
    super('E_COMPONENT_MODULE', `Cannot load component module '${modulePath}': ${reason}`, options);
  }
}

export class BackendUnavailableError extends RftError {
  readonly backend: string;
  constructor(backend: string, reason: string, options?: { cause?: unknown }) {
    super('E_BACKEND_UNAVAILABLE', `Backend '${backend}' is not available: ${reason}`, options);
    this.backend = backend;
  }
}

export class CheckpointError extends RftError {
  readonly path: string;
  constructor(path: string, reason: string, options?: { cause?: unknown }) {
    super('E_CHECKPOINT', `Checkpoint ${path}: ${reason}`, options);
    this.path = path;
  }
}

export class DatasetError extends RftError {
  readonly source: string;
  readonly line: number | undefined;
  constructor(source: string, line: number | undefined, reason: string) {
    super('E_DATASET', `${source}${line === undefined ? '' : `:${line}`}: ${reason}`);
    this.source = source;
    this.line = line;
  }
}

/** Tensor/batch shapes that do not fit together. Raised before tfjs would throw from deep inside. */
export class ShapeError extends RftError {
  constructor(where: string, reason: string) {
    super('E_SHAPE', `${where}: ${reason}`);
  }
}

export class StateError extends RftError {
  constructor(component: string, reason: string) {
    super('E_STATE', `Cannot restore state of '${component}': ${reason}`);
  }
}

/**
 * A backend ran out of memory for a tensor (the wasm heap stops at 4 GB). Raised where the
 * allocation fails, instead of the out-of-bounds trap that writing through its null pointer
 * would cause later; `requestedBytes` is the allocation that did not fit.
 */
export class OutOfMemoryError extends RftError {
  readonly backend: string;
  readonly requestedBytes: number;
  constructor(backend: string, requestedBytes: number, reason: string) {
    super('E_MEMORY', `Out of memory on backend '${backend}': ${reason}`);
    this.backend = backend;
    this.requestedBytes = requestedBytes;
  }
}

/**
 * A component (advantage estimator, policy loss, regularizer, ...) threw, or returned
 * something the trainer cannot use (non-finite values). Names the component and the step;
 * a thrown error is kept as `cause`.
 */
export class ComponentError extends RftError {
  /** e.g. `advantage 'grpo'`. */
  readonly component: string;
  readonly step: number | undefined;
  constructor(component: string, step: number | undefined, reason: string, options?: { cause?: unknown }) {
    super('E_COMPONENT', `${component}${step === undefined ? '' : ` at step ${step}`}: ${reason}`, options);
    this.component = component;
    this.step = step;
  }
}

export function isRftError(value: unknown): value is RftError {
  return value instanceof RftError;
}
