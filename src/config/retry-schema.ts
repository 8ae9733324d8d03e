/**
 * `retry` and `deadLetter`, in the config (for every entry) and on an entry (its own over the
 * config's): a run that ends in FAILURE, or is lost on the way, is published again after a backoff,
 * up to `attempts` runs of its slot; one whose attempts are exhausted goes to the deployment's
 * dead-letter list (docs/outcomes.md, "Retries and the dead-letter list"). tsbeat only knows how a
 * run ended from its outcome source, so both need one (retry-settings.ts, `retrySettingProblems`).
 */
import * as z from 'zod';
import { DEFAULTS } from '../base/defaults.js';
import { durationSchema } from './duration.js';
import { keyed } from './key-spelling.js';
import { RETRY_ON } from '../core/retry.js';
import type { RetryPolicy } from '../core/retry.js';

/** `retry.attempts` at most: runs of one slot, the first included (Temporal, BullMQ and Argo count so too). */
const RETRY_ATTEMPTS_MAX = 100;
/** `retry.backoff.factor` at most: beyond it the waits reach `max` after two attempts, which `max` alone says better. */
const RETRY_BACKOFF_FACTOR_MAX = 10;
/** Shortest wait a backoff may name: a retry sooner than this is a loop against a worker that just failed. */
const RETRY_BACKOFF_FLOOR_MS = 1000;
/** Longest wait a backoff may name: a day, past which a retry belongs to the next slot, not this one. */
const RETRY_BACKOFF_CEILING_MS = 86_400_000;

const attemptsError = `retry.attempts must be a whole number from 1 to ${RETRY_ATTEMPTS_MAX} (runs of one slot, the first included)`;
const factorError = `retry.backoff.factor must be a number from 1 to ${RETRY_BACKOFF_FACTOR_MAX} (each wait is the one before times this)`;
const onError = `retry.on must be a list of ${RETRY_ON.join(', ')} (what ends an attempt in another), with at least one`;

const backoffSchema = keyed({
  initial: durationSchema('retry.backoff.initial', RETRY_BACKOFF_FLOOR_MS, RETRY_BACKOFF_CEILING_MS).default(
    DEFAULTS.retryBackoffInitialMs,
  ),
  factor: z
    .number({ error: factorError })
    .min(1, { error: factorError })
    .max(RETRY_BACKOFF_FACTOR_MAX, { error: factorError })
    .default(DEFAULTS.retryBackoffFactor),
  max: durationSchema('retry.backoff.max', RETRY_BACKOFF_FLOOR_MS, RETRY_BACKOFF_CEILING_MS).default(DEFAULTS.retryBackoffMaxMs),
});

const policySchema = keyed({
  attempts: z
    .number({ error: attemptsError })
    .int({ error: attemptsError })
    .min(1, { error: attemptsError })
    .max(RETRY_ATTEMPTS_MAX, { error: attemptsError }),
  backoff: backoffSchema.optional(),
  on: z
    .array(z.enum(RETRY_ON, { error: onError }), { error: onError })
    .min(1, { error: onError })
    .optional(),
}).superRefine((policy, ctx) => {
  const initial = policy.backoff?.initial ?? DEFAULTS.retryBackoffInitialMs;
  const max = policy.backoff?.max ?? DEFAULTS.retryBackoffMaxMs;
  if (max < initial)
    ctx.addIssue({
      code: 'custom',
      path: ['backoff', 'max'],
      message: `retry.backoff.max (${max / 1000} s) must be at least retry.backoff.initial (${initial / 1000} s): no wait could be that short`,
      input: policy.backoff?.max,
    });
});

/**
 * A retry policy as written: `{attempts, backoff: {initial, factor, max}, on}`; on an entry also
 * `false`, which turns the config's default off for it.
 */
export const retrySchema = policySchema;
export const entryRetrySchema = z.union([z.literal(false), policySchema], {
  error: 'retry must be an object such as { attempts: 3, backoff: { initial: 30s, factor: 2, max: 10m } }, or false',
});
export const deadLetterSchema = z.boolean({ error: 'deadLetter must be true or false' });

export type ParsedRetry = z.output<typeof policySchema>;

/** A written policy with every field known. */
export function resolveRetry(written: ParsedRetry): RetryPolicy {
  return {
    attempts: written.attempts,
    initialMs: written.backoff?.initial ?? DEFAULTS.retryBackoffInitialMs,
    factor: written.backoff?.factor ?? DEFAULTS.retryBackoffFactor,
    maxMs: written.backoff?.max ?? DEFAULTS.retryBackoffMaxMs,
    on: written.on === undefined ? DEFAULTS.retryOn : [...new Set(written.on)],
  };
}

/** What an entry and its config say of retries (ResolvedEntry, ResolvedConfig: each its own, as written). */
export interface RetrySettings {
  /** The policy; an entry's false turns the config's off for it; undefined: the config's (on an entry), none (on the config). */
  readonly retry?: RetryPolicy | false | undefined;
  readonly deadLetter?: boolean | undefined;
}

/**
 * The policy in force for an entry: its own, else its config's (read when used, not when
 * resolved: a runtime entry is resolved without the config's settings); undefined = no retry.
 */
export function retryPolicyOf(entry: RetrySettings, config: RetrySettings): RetryPolicy | undefined {
  if (entry.retry === false) return undefined;
  return entry.retry ?? (config.retry === false ? undefined : config.retry);
}

/**
 * Whether an entry's run that failed for good (attempts exhausted, or no retry) goes to the
 * dead-letter list: its own deadLetter, else the config's, else whether it retries (a run whose
 * attempts are exhausted is kept unless deadLetter: false says not to).
 */
export function deadLettersOf(entry: RetrySettings, config: RetrySettings): boolean {
  return entry.deadLetter ?? config.deadLetter ?? retryPolicyOf(entry, config) !== undefined;
}
