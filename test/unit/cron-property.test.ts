/**
 * nextCronFires against cron-parser's next() on pseudo-random expressions from a seeded PRNG:
 * in UTC, and in DST zones on stretches far from any transition (where cron-parser is right).
 * Only features both implement are generated, and the known rule differences (cron-cases §5 F/H)
 * are avoided: cron-parser ORs `*\/n` day fields with the other day field where cronie ANDs them,
 * so a day field is `*\/n` only when the other one is `*`.
 */
import { CronExpressionParser } from 'cron-parser';
import { describe, expect, it } from 'vitest';
import { nextCronFires, parseCronLine } from '../../src/core/cron/index.js';
import type { CronSpec } from '../../src/core/cron/index.js';
import { int, prng } from '../support/prng.js';
import type { Rand } from '../support/prng.js';

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** One list entry within [min, max]: a value, a range, a stepped range, or n/step. */
function entry(r: Rand, min: number, max: number, last: boolean, names?: readonly string[], nameBase = 0): string {
  const v = (n: number): string => (names?.[n - nameBase] !== undefined && r() < 0.3 ? (names[n - nameBase] as string) : String(n));
  const a = int(r, min, max);
  const b = int(r, a, max);
  const step = (): number => int(r, 1, Math.max(1, Math.floor((max - min) / 2)));
  switch (int(r, 0, 3)) {
    case 0:
      return v(a);
    case 1:
      return `${v(a)}-${v(b)}`;
    case 2:
      return `${v(a)}-${v(b)}/${step()}`;
    default:
      // n/step runs to the end of the field, so only inside the last segment of a list
      return last ? `${a}/${step()}` : v(a);
  }
}

/**
 * A restricted field that does not start with `*`: 1-3 entries over disjoint parts of the field,
 * because cron-parser rejects lists whose entries overlap ("duplicate values found").
 */
function list(r: Rand, min: number, max: number, names?: readonly string[], nameBase = 0, openStep = true): string {
  const n = r() < 0.6 ? 1 : int(r, 2, 3);
  const cuts = [min - 1, ...Array.from({ length: n - 1 }, () => int(r, min, max - 1)).sort((a, b) => a - b), max];
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const lo = (cuts[i] as number) + 1;
    const hi = cuts[i + 1] as number;
    if (lo <= hi) parts.push(entry(r, lo, hi, openStep && i === n - 1, names, nameBase));
  }
  return parts.length > 0 ? parts.join(',') : String(min);
}

function timeField(r: Rand, min: number, max: number): string {
  const x = r();
  if (x < 0.25) return '*';
  if (x < 0.5) return `*/${int(r, 1, Math.floor((max - min) / 2))}`;
  return list(r, min, max);
}

function expression(r: Rand): string {
  const seconds = r() < 0.15 ? `${timeField(r, 0, 59)} ` : '';
  const minute = timeField(r, 0, 59);
  const hour = timeField(r, 0, 23);
  const month = r() < 0.6 ? '*' : list(r, 1, 12, MONTHS, 1);
  let dom = '*';
  let dow = '*';
  // cron-parser counts 0 and 7 as duplicates, so a list uses either 0-6 (where n/step would run
  // on to 7) or 1-7.
  const weekdays = (): string => (r() < 0.5 ? list(r, 0, 6, DAYS, 0, false) : list(r, 1, 7));
  const shape = r();
  if (shape < 0.25) dom = list(r, 1, 28);
  else if (shape < 0.4) dow = weekdays();
  else if (shape < 0.55)
    [dom, dow] = [list(r, 1, 28), weekdays()]; // both restricted: OR in both
  else if (shape < 0.62) dom = `*/${int(r, 2, 10)}`;
  else if (shape < 0.68) dow = `*/${int(r, 2, 3)}`;
  else if (shape < 0.73) dom = 'L';
  else if (shape < 0.78) dow = `${int(r, 0, 6)}L`;
  else if (shape < 0.83) dow = `${int(r, 0, 6)}#${int(r, 1, 4)}`;
  return `${seconds}${minute} ${hour} ${dom} ${month} ${dow}`;
}

function cronParserNext(expr: string, zone: string, after: number, count: number, before: number): number[] {
  const it = CronExpressionParser.parse(expr, { currentDate: after, tz: zone });
  const out: number[] = [];
  while (out.length < count) {
    const t = it.next().getTime();
    if (t >= before) break;
    out.push(t);
  }
  return out;
}

interface Run {
  compared: number;
  mismatches: string[];
}

function compareMany(seed: number, n: number, zone: string, window: (r: Rand) => [after: number, before: number]): Run {
  const r = prng(seed);
  const run: Run = { compared: 0, mismatches: [] };
  for (let i = 0; i < n; i++) {
    const expr = expression(r);
    const [after, before] = window(r);
    let spec: CronSpec;
    try {
      spec = parseCronLine(expr);
    } catch (error) {
      run.mismatches.push(`${expr}: we reject it (${String(error)})`);
      continue;
    }
    const ours = nextCronFires(spec, zone, after, 6).filter((t) => t < before);
    const theirs = cronParserNext(expr, zone, after, 6, before);
    run.compared++;
    if (JSON.stringify(ours) !== JSON.stringify(theirs)) {
      const iso = (ts: number[]): string => ts.map((t) => new Date(t).toISOString()).join(' ');
      run.mismatches.push(`${expr} after ${new Date(after).toISOString()}: ours ${iso(ours)} | cron-parser ${iso(theirs)}`);
    }
  }
  return run;
}

const DAY = 86_400_000;

describe('nextCronFires agrees with cron-parser away from DST', () => {
  it('in UTC on 400 random expressions', () => {
    const run = compareMany(20261121, 400, 'UTC', (r) => {
      const after = Date.UTC(2024, 0, 1) + Math.floor(r() * 6 * 365 * DAY) + int(r, 0, 999);
      return [after, Infinity];
    });
    expect(run.mismatches).toEqual([]);
    expect(run.compared).toBe(400);
  });

  it('in America/New_York, Europe/Berlin and Australia/Sydney on stretches without a transition', () => {
    // [first day, last day) in local months, well inside standard or summer time, years 2026-2030.
    const stretches: Array<[zone: string, fromMonth: number, toMonth: number]> = [
      ['America/New_York', 0, 2], // Jan 1 - Mar 1 (DST starts on the 2nd Sunday of March)
      ['America/New_York', 4, 9], // May 1 - Oct 1
      ['Europe/Berlin', 4, 9],
      ['Europe/Berlin', 10, 12], // Nov 1 - Jan 1
      ['Australia/Sydney', 4, 9], // May 1 - Oct 1 (southern winter)
    ];
    let seed = 7;
    for (const [zone, fromMonth, toMonth] of stretches) {
      const run = compareMany(seed++, 120, zone, (r) => {
        const year = int(r, 2026, 2030);
        const start = Date.UTC(year, fromMonth, 2);
        const end = Date.UTC(year, toMonth, 1) - 2 * DAY;
        return [start + Math.floor(r() * (end - start) * 0.5), end];
      });
      expect(run.mismatches, zone).toEqual([]);
      expect(run.compared).toBe(120);
    }
  });
});
