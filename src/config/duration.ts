/**
 * Durations in the config: a number of seconds (as Celery writes them), or a string with units such
 * as "500ms", "10s", "5m", "1h30m", "2d".
 */
import * as z from 'zod';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const compact = text.replace(/\s+/g, '');
  if (!DURATION.test(compact)) return undefined;
  let ms = 0;
  for (const [, amount, unit] of compact.matchAll(PART)) ms += Number(amount) * (UNIT_MS[unit ?? 's'] ?? 0);
  return ms;
}

/** A duration setting, in milliseconds once parsed; `min` is in milliseconds. */
export function durationSchema(what: string, min = 0) {
  const message = `${what} must be a number of seconds or a duration such as "500ms", "10s", "5m", "1h30m"`;
  return z.union([z.number(), z.string()], { error: message }).transform((input, ctx): number => {
    const ms = typeof input === 'number' ? input * 1000 : parseDuration(input);
    if (ms === undefined || !Number.isFinite(ms)) {
      ctx.addIssue({ code: 'custom', message: `${message}, got ${JSON.stringify(input)}`, input });
      return z.NEVER;
    }
    if (ms < min) {
      ctx.addIssue({ code: 'custom', message: `${what} must be at least ${formatMs(min)}, got ${JSON.stringify(input)}`, input });
      return z.NEVER;
    }
    return ms;
  });
}

export function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
