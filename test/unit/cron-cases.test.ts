/**
 * The research corpus (cron-cases.json, 49 cases, every expect_next computed by a reference
 * enumerator of the §4 policy) run against the engine: instants and offsets must match exactly.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { nextCronFires, parseCeleryCrontab, parseCronLine } from '../../src/core/cron/index.js';
import type { CeleryCrontabFields, CronSpec } from '../../src/core/cron/index.js';
import { formatInstant } from '../../src/time/zone.js';

interface Case {
  id: string;
  expr: string | Record<string, string | number>;
  tz: string;
  after: string;
  expect_next: string[];
  dst_class: 'fixed' | 'wildcard';
  topic: string;
}

const fixturePath = fileURLToPath(new URL('../fixtures/cron-cases.json', import.meta.url));
const referencePath = fileURLToPath(new URL('../../../shared/reference/cron-cases.json', import.meta.url));
const cases = JSON.parse(readFileSync(fixturePath, 'utf8')) as Case[];

const CELERY_KEYS: Record<string, keyof CeleryCrontabFields> = {
  minute: 'minute',
  hour: 'hour',
  day_of_week: 'dayOfWeek',
  day_of_month: 'dayOfMonth',
  month_of_year: 'monthOfYear',
};

function parseCase(expr: Case['expr']): CronSpec {
  if (typeof expr === 'string') return parseCronLine(expr);
  const fields: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(expr)) {
    const camel = CELERY_KEYS[key];
    if (camel === undefined) throw new Error(`unexpected celery key ${key}`);
    fields[camel] = value;
  }
  return parseCeleryCrontab(fields);
}

describe('cron-cases.json corpus', () => {
  it('has all 49 cases', () => {
    expect(cases).toHaveLength(49);
  });

  it.runIf(existsSync(referencePath))('fixture is a byte-for-byte copy of ../shared/reference/cron-cases.json', () => {
    expect(readFileSync(fixturePath).equals(readFileSync(referencePath))).toBe(true);
  });

  for (const c of cases) {
    it(`${c.id}: ${c.topic}`, () => {
      const spec = parseCase(c.expr);
      expect(spec.fixed ? 'fixed' : 'wildcard').toBe(c.dst_class);
      const got = nextCronFires(spec, c.tz, Date.parse(c.after), c.expect_next.length);
      expect(got).toEqual(c.expect_next.map((s) => Date.parse(s)));
      expect(got.map((ms) => formatInstant(ms, c.tz))).toEqual(c.expect_next);
    });
  }
});
