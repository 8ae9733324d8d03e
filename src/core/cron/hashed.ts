/**
 * Jenkins' hashed cron (`H`): a crontab line whose `H` tokens stand for values chosen by a stable
 * hash of the deployment and the entry's name, so that 4,000 entries written `H H * * *` run at
 * 4,000 different times of the day, each at the same time every day, on every replica, after every
 * restart and release (docs/schedules.md, "Hashed times").
 *
 * Jenkins' rules (hudson.scheduler.BaseParser `doHash`, help-spec.html): per field, `H` is one value
 * of the field's range, `H(a-b)` one value of a-b, `H/n` and `H(a-b)/n` every n-th value from a
 * hashed start below n; in day-of-month `H` picks from 1-28 (every month has those days), in
 * day-of-week from 0-6; `H/1` is `H` (Jenkins reads a step of 1 as no step). What differs is the
 * hash: Jenkins seeds Java's Random with the job name, tsbeat takes SHA-256 (below), so the values
 * are tsbeat's own, fixed by test/unit/cron-hashed.test.ts.
 *
 * A line with `H` is rewritten into a plain crontab line (`H H * * *` → `37 14 * * *`) and parsed
 * as any other: everything downstream sees real values.
 */
import { createHash } from 'node:crypto';
import { parseCronLine } from './parse-line.js';
import { CronParseError, type CronSpec } from './spec.js';

/** A value in [0, size) for the `term`-th `H` of a field (0 for the first). */
export type HashDraw = (field: HashedField, term: number, size: number) => number;

export type HashedField = 'second' | 'minute' | 'hour' | 'dayOfMonth' | 'month' | 'dayOfWeek';

interface Range {
  readonly field: HashedField;
  readonly label: string;
  readonly min: number;
  /** The highest value `H` alone (or `H/n`) picks: day-of-month stops at 28, day-of-week at 6. */
  readonly hashMax: number;
  /** The highest value the field takes, for `H(a-b)`. */
  readonly max: number;
}

const SECOND: Range = { field: 'second', label: 'second', min: 0, hashMax: 59, max: 59 };
const FIVE: readonly Range[] = [
  { field: 'minute', label: 'minute', min: 0, hashMax: 59, max: 59 },
  { field: 'hour', label: 'hour', min: 0, hashMax: 23, max: 23 },
  { field: 'dayOfMonth', label: 'day-of-month', min: 1, hashMax: 28, max: 31 },
  { field: 'month', label: 'month', min: 1, hashMax: 12, max: 12 },
  // 7 is Sunday as 0 is: H(0-7) would give Sunday twice the chance of another day, so H stops at 6.
  { field: 'dayOfWeek', label: 'day-of-week', min: 0, hashMax: 6, max: 7 },
];

/** An `H` term of a field: H, H(a-b), H/n, H(a-b)/n. */
const H_TERM = /^H(?:\((\d+)-(\d+)\))?(?:\/(\d+))?$/;
/** Whether a field's text holds an `H` at the start of one of its terms. */
const HAS_H = /(?:^|,)H/;

/** Whether a crontab line uses Jenkins' `H` in any field. A nickname never does. */
export function isHashedLine(text: string): boolean {
  const source = text.trim();
  return !source.startsWith('@') && source.split(/\s+/).some((field) => HAS_H.test(field));
}

/**
 * The line with every `H` term replaced by what `draw` picks: `H` by one value, `H/n` by
 * `s-max/n`. Refuses a malformed `H` term, naming the field, with a CronParseError; the result is
 * for parseCronLine, which judges the rest.
 */
export function resolveHashedLine(text: string, draw: HashDraw): string {
  const fields = text.trim().split(/\s+/);
  // Miscounted lines are left for parseCronLine to say so.
  if (fields.length !== 5 && fields.length !== 6) return text.trim();
  const ranges = fields.length === 6 ? [SECOND, ...FIVE] : FIVE;
  return fields.map((field, i) => resolveField(field, ranges[i] as Range, draw)).join(' ');
}

function resolveField(text: string, range: Range, draw: HashDraw): string {
  if (!HAS_H.test(text)) return text;
  let term = 0;
  return text
    .split(',')
    .map((element) => {
      if (!element.startsWith('H')) return element;
      const m = H_TERM.exec(element);
      const fail = (problem: string): CronParseError => {
        const where = element === text ? '' : `"${element}": `;
        return new CronParseError(`${range.label} field "${text}": ${where}${problem}`, range.field);
      };
      if (m === null) throw fail("H is written H, H(a-b), H/n or H(a-b)/n (Jenkins' hashed value)");
      const lo = m[1] === undefined ? range.min : Number(m[1]);
      const hi = m[2] === undefined ? range.hashMax : Number(m[2]);
      for (const v of [lo, hi]) if (v < range.min || v > range.max) throw fail(`${v} is out of range ${range.min}-${range.max}`);
      if (lo > hi) throw fail(`range ${lo}-${hi} goes backwards; H(a-b) needs a <= b`);
      const size = hi - lo + 1;
      const step = m[3] === undefined ? 1 : Number(m[3]);
      if (step < 1 || step > size) throw fail(`step ${step} is out of range 1-${size}`);
      const picked = draw(range.field, term, step === 1 ? size : step);
      term += 1;
      // Jenkins reads H/1 as H: one value, not every value.
      return step === 1 ? String(lo + picked) : `${lo + picked}-${hi}/${step}`;
    })
    .join(',');
}

/**
 * The hash draws of an entry: the first four bytes (big-endian) of SHA-256 over
 * `deployment NUL name NUL field NUL term`, modulo `size`. Fixed for good: changing it moves every
 * hashed entry of every deployment (test/unit/cron-hashed.test.ts pins values).
 */
export function hashDrawOf(deployment: string, name: string): HashDraw {
  return (field, term, size) => stableHash(`${deployment}\u0000${name}\u0000${field}\u0000${term}`) % size;
}

/** A 32-bit unsigned number from SHA-256 of `text` (UTF-8): its first four bytes, big-endian. */
export function stableHash(text: string): number {
  return createHash('sha256').update(text, 'utf8').digest().readUInt32BE(0);
}

/** A hashed line's spec: the line as `draw` resolves it, parsed, remembering the line as written. */
export function parseHashedLine(text: string, draw: HashDraw): CronSpec {
  const spec = parseCronLine(resolveHashedLine(text, draw));
  return Object.freeze({ ...spec, hashedFrom: text.trim() });
}

/**
 * Checks a hashed line for every entry name at once: its `H` terms are well formed, and no hash
 * can make it a line that never runs. Only the month can (`H H 30 H *` would never run if H picked
 * February), so the line is parsed with every month H can pick; other fields with H's lowest values.
 */
export function checkHashedLine(text: string): void {
  let months = 1;
  resolveHashedLine(text, (field, _term, size) => {
    if (field === 'month') months = Math.max(months, size);
    return 0;
  });
  for (let pick = 0; pick < months; pick += 1) {
    parseCronLine(resolveHashedLine(text, (field, _term, size) => (field === 'month' ? pick % size : 0)));
  }
}
