/**
 * Celery `crontab(...)` objects with Celery's field rules (celery/schedules.py `crontab`,
 * `crontab_parser`): a missing field is `*`; month, day of month and day of week are always ANDed;
 * day of week is 0-6 with Sunday = 0 (7 is rejected); ranges may wrap (`23-1`, `fri-mon`, with
 * steps too); `n/step` is an error; names are the first three letters of any word (`monday`).
 *
 * Deliberate differences from Celery, all of which turn silent surprises into errors:
 * names are accepted only in their own field (Celery's name lookup ignores the field, so it
 * reads `hour='mon'` as hour 1); a step wider than the field (`*\/90` minutes, which Celery
 * reads as minute 0) is rejected; a schedule that can never run is rejected here instead of
 * raising "unable to rollover" when it is evaluated.
 */
import { CronParseError, NONE, ValueBits, finishSpec, masksOf, type CronSpec } from './spec.js';

export type CrontabFieldValue = number | string | ReadonlyArray<number | string>;

/** Celery's `crontab` keyword arguments, camelCased. A missing field means `*`. */
export interface CeleryCrontabFields {
  readonly minute?: CrontabFieldValue;
  readonly hour?: CrontabFieldValue;
  readonly dayOfWeek?: CrontabFieldValue;
  readonly dayOfMonth?: CrontabFieldValue;
  readonly monthOfYear?: CrontabFieldValue;
}

type Key = keyof CeleryCrontabFields;

interface FieldDef {
  readonly key: Key;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
  readonly hint?: string;
}

const DEFS: Readonly<Record<Key, FieldDef>> = {
  minute: { key: 'minute', min: 0, max: 59 },
  hour: { key: 'hour', min: 0, max: 23 },
  dayOfWeek: {
    key: 'dayOfWeek',
    min: 0,
    max: 6,
    hint: ' (Sunday is 0)',
    names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
  },
  dayOfMonth: { key: 'dayOfMonth', min: 1, max: 31 },
  monthOfYear: {
    key: 'monthOfYear',
    min: 1,
    max: 12,
    names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
  },
};

/** Second 0: Celery has no seconds. */
const ZERO = new ValueBits();
ZERO.add(0);

/** Celery's keyword order, used for `source`. */
const ORDER: readonly Key[] = ['minute', 'hour', 'dayOfWeek', 'dayOfMonth', 'monthOfYear'];

/** The names Celery users read (and may write in the config): `crontab(day_of_week='mon')`. */
const PYTHON_NAME: Readonly<Record<Key, string>> = {
  minute: 'minute',
  hour: 'hour',
  dayOfWeek: 'day_of_week',
  dayOfMonth: 'day_of_month',
  monthOfYear: 'month_of_year',
};

/** A field value as Python writes it: 5, 'mon-fri', [1, 2]. Runs before validation: takes anything. */
function pythonLiteral(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (Array.isArray(value)) return `[${value.map(pythonLiteral).join(', ')}]`;
  return JSON.stringify(value) ?? String(value);
}

export function parseCeleryCrontab(fields: CeleryCrontabFields): CronSpec {
  if (typeof fields !== 'object' || fields === null) {
    throw new CronParseError(`a crontab must be an object of fields, got ${fields === null ? 'null' : typeof fields}`);
  }
  const given = ORDER.filter((k) => fields[k] !== undefined);
  const source = `crontab(${given.map((k) => `${PYTHON_NAME[k]}=${pythonLiteral(fields[k])}`).join(', ')})`;
  const minute = parseValue(fields.minute, DEFS.minute);
  const hour = parseValue(fields.hour, DEFS.hour);
  const dayOfWeek = parseValue(fields.dayOfWeek, DEFS.dayOfWeek);
  const dayOfMonth = parseValue(fields.dayOfMonth, DEFS.dayOfMonth);
  const monthOfYear = parseValue(fields.monthOfYear, DEFS.monthOfYear);
  // §4: strings classify by their text; ints and lists are fixed (Celery's _orig_minute/_orig_hour).
  const wild = (v: CrontabFieldValue | undefined): boolean => v === undefined || (typeof v === 'string' && v.trim().startsWith('*'));
  const text = (k: Key): string => JSON.stringify(fields[k] ?? '*');
  const texts = () => ({
    dayOfMonth: [PYTHON_NAME.dayOfMonth, text('dayOfMonth')] as const,
    month: [PYTHON_NAME.monthOfYear, text('monthOfYear')] as const,
    dayOfWeek: [PYTHON_NAME.dayOfWeek, text('dayOfWeek')] as const,
  });
  return finishSpec(
    {
      dialect: 'celery',
      source,
      fixed: !wild(fields.minute) && !wild(fields.hour),
      seconds: ZERO.toArray(),
      minutes: minute.toArray(),
      hours: hour.toArray(),
      daysOfMonth: dayOfMonth.toArray(),
      lastDayOfMonth: false,
      lastWeekdayOfMonth: false,
      nearestWeekdays: NONE,
      months: monthOfYear.toArray(),
      daysOfWeek: dayOfWeek.toArray(),
      nthDaysOfWeek: NONE,
      lastDaysOfWeek: NONE,
      dayRule: 'and',
      masks: masksOf(
        { seconds: ZERO, minutes: minute, hours: hour, daysOfMonth: dayOfMonth, months: monthOfYear, daysOfWeek: dayOfWeek },
        false,
      ),
    },
    texts,
  );
}

/** A missing field is `*`. */
function parseValue(value: CrontabFieldValue | undefined, def: FieldDef): ValueBits {
  const fail = (message: string): CronParseError => new CronParseError(message, def.key);
  const bits = new ValueBits();
  if (value === undefined) {
    for (let v = def.min; v <= def.max; v++) bits.add(v);
  } else if (typeof value === 'number') {
    bits.add(checkNumber(value, def, fail));
  } else if (typeof value === 'string') {
    parsePattern(value, def, fail, bits);
  } else if (Array.isArray(value)) {
    if (value.length === 0) throw fail('an empty list never matches; use "*" for every value');
    for (const item of value as ReadonlyArray<unknown>) {
      if (typeof item === 'number') bits.add(checkNumber(item, def, fail));
      else if (typeof item === 'string') parsePattern(item, def, fail, bits);
      else throw fail(`list items must be numbers or strings, got ${JSON.stringify(item)}`);
    }
  } else {
    throw fail(`expected a number, a string or a list, got ${JSON.stringify(value)}`);
  }
  return bits;
}

function checkNumber(n: number, def: FieldDef, fail: (m: string) => CronParseError): number {
  if (!Number.isInteger(n)) throw fail(`${n} is not a whole number`);
  if (n < def.min || n > def.max) throw fail(`${n} is out of range ${def.min}-${def.max}${def.hint ?? ''}`);
  return n;
}

function parsePattern(pattern: string, def: FieldDef, fail: (m: string) => CronParseError, out: ValueBits): void {
  if (pattern.trim() === '') throw fail('"" is empty; use "*" for every value');
  for (const raw of pattern.split(',')) {
    const part = raw.trim();
    if (part === '') throw fail(`empty entry in "${pattern}"`);
    if (/^H(\(|\/|$)/.test(part)) {
      throw fail(
        `"${part}" is Jenkins' hashed value, which a Celery crontab has no field for; write the schedule as a crontab line, such as { cron: "H H * * *" }`,
      );
    }
    const [base = '', stepText, ...extra] = part.split('/');
    if (extra.length > 0) throw fail(`"${part}" has more than one "/"`);
    let from: number;
    let to: number;
    if (base === '*') {
      [from, to] = [def.min, def.max];
    } else if (base.startsWith('-')) {
      throw fail(`negative numbers are not allowed ("${part}")`);
    } else if (base.includes('-')) {
      const ends = base.split('-');
      if (ends.length !== 2 || ends[1] === '') throw fail(`"${part}" is not a range like 1-5`);
      from = number(ends[0] as string, def, fail);
      to = number(ends[1] as string, def, fail);
    } else {
      if (stepText !== undefined) {
        throw fail(`"${part}": a step needs a range or *, e.g. "${base}-${def.max}/${stepText}" or "*/${stepText}"`);
      }
      from = to = number(base, def, fail);
    }
    let step = 1;
    if (stepText !== undefined) {
      const span = def.max - def.min;
      if (!/^\d+$/.test(stepText)) throw fail(`step "${stepText}" in "${part}" is not a number`);
      step = Number(stepText);
      if (step < 1 || step > span) throw fail(`step ${step} is out of range 1-${span}`);
    }
    // Celery wraps a reversed range around the field's end (23-1 = 23,0,1) and slices the
    // expanded list with [::step], so a wrapped range steps straight across the wrap.
    const length = to >= from ? to - from + 1 : def.max - from + 1 + (to - def.min + 1);
    for (let i = 0; i < length; i += step) {
      const v = from + i;
      out.add(v <= def.max ? v : v - (def.max - def.min + 1));
    }
  }
}

function number(token: string, def: FieldDef, fail: (m: string) => CronParseError): number {
  if (/^\d+$/.test(token)) {
    // Quoted when too long for a number: "1111…" (100,000 digits) is not "Infinity".
    if (!Number.isSafeInteger(Number(token))) throw fail(`"${token}" is out of range ${def.min}-${def.max}${def.hint ?? ''}`);
    return checkNumber(Number(token), def, fail);
  }
  // Celery takes the first three letters of any word: "monday", "Mon", even "monkey" are Monday.
  const index = /^[a-z]{3,}$/i.test(token) ? (def.names?.indexOf(token.slice(0, 3).toLowerCase()) ?? -1) : -1;
  if (index >= 0) return def.key === 'monthOfYear' ? index + 1 : index;
  const names = def.key === 'dayOfWeek' ? ' or a day name (sun-sat)' : def.key === 'monthOfYear' ? ' or a month name (jan-dec)' : '';
  throw fail(`"${token}" is not a number${names}; allowed: ${def.min}-${def.max}`);
}
