import type { RolloutRequest } from '@rftkit/core';

/**
 * A sampler's seed stream: its own label, nested under the caller's stream when one is
 * given (`aepo/tempered`), so it never replays the main rollout's randomness.
 */
export function samplerStream(request: RolloutRequest, label: string): string {
  return request.stream ? `${request.stream}/${label}` : label;
}

/** Formats a number for row sources and descriptions: `1.2`, not `1.2000000000000002`. */
export function fmt(x: number): string {
  return String(Number(x.toPrecision(6)));
}
