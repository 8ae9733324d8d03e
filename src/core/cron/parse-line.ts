/**
 * Crontab lines with Vixie/cronie semantics: `m h dom mon dow`, or six fields with leading seconds.
 *
 * Beyond cronie: `@midnight`-style nicknames (as cronie), `L` / `LW` / `nW` in day-of-month,
 * `nL` / `n#k` in day-of-week, `?` as `*` in the two day fields, and `n/step` meaning
 * `n-max/step`. cronie rejects `n/step`; we accept it because cron-parser, croner (sloppy ranges)
 * and Quartz all read it that way, users paste it from those tools, and it has no other meaning.
 *
 * Stricter than cronie: reversed ranges (other than day-of-week `x-0`, as in `FRI-SUN`) and
 * steps wider than the field are errors instead of silently never matching, and a schedule that
 * can never run (`0 0 30 2 *`) is rejected.
 */
import { CronParseError, NONE, ValueBits, finishSpec, masksOf, type CronSpec, type NthWeekday } from './spec.js';

type FieldKey = 'second' | 'minute' | 'hour' | 'dayOfMonth' | 'month' | 'dayOfWeek';

interface FieldDef {
  readonly key: FieldKey;
  readonly label: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

const SECOND: FieldDef = { key: 'second', label: 'second', min: 0, max: 59 };
const MINUTE: FieldDef = { key: 'minute', label: 'minute', min: 0, max: 59 };
const HOUR: FieldDef = { key: 'hour', label: 'hour', min: 0, max: 23 };
const DAY_OF_MONTH: FieldDef = { key: 'dayOfMonth', label: 'day-of-month', min: 1, max: 31 };
const MONTH: FieldDef = { key: 'month', label: 'month', min: 1, max: 12, names: MONTHS };
// 0-7: cronie accepts 7 for Sunday and folds it into 0.
const DAY_OF_WEEK: FieldDef = { key: 'dayOfWeek', label: 'day-of-week', min: 0, max: 7, names: DAYS };
/** Second 0, for five-field lines. */
const ZERO = new ValueBits();
ZERO.add(0);

/** Tokens that only mean something in the day fields (for a helpful message elsewhere). */
const DAY_ONLY = /^(\?|L|LW|\d+[LW]|\w+#\w*)$/i;
const DOM_SPECIAL = /^(L|LW|\d+W)$/i;
const DOW_SPECIAL = /^((\d+|[a-z]{3})L|(\d+|[a-z]{3})#.*)$/i;

const NICKNAMES: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** What one field contributes; only the day fields use the extras. */
interface FieldResult {
  readonly values: ValueBits; // day-of-week already folded to 0-6
  last: boolean; // dom L
  lastWeekday: boolean; // dom LW
  readonly nearest: ValueBits; // dom nW
  readonly nth: ValueBits; // dow w#n, as weekday * 8 + n
  readonly lastOf: ValueBits; // dow wL
}

export function parseCronLine(text: string): CronSpec {
  if (typeof text !== 'string') throw new CronParseError(`a cron expression must be a string, got ${typeof text}`);
  const source = text.trim();
  if (source === '') throw new CronParseError('empty cron expression; expected 5 fields: minute hour day-of-month month day-of-week');
  let fieldsText = source;
  if (source.startsWith('@')) {
    const [first = '', ...rest] = source.split(/\s+/);
    const nick = first.toLowerCase();
    if (rest.length > 0 && (nick === '@reboot' || NICKNAMES[nick] !== undefined)) {
      throw new CronParseError(`"${source}": a nickname stands alone, without other fields`);
    }
    if (nick === '@reboot') {
      throw new CronParseError('"@reboot" means "once when cron starts", which is not a schedule; tsbeat cannot run it');
    }
    const expansion = NICKNAMES[nick];
    if (expansion === undefined) {
      throw new CronParseError(`unknown nickname "${first}"; use one of ${Object.keys(NICKNAMES).join(' ')}`);
    }
    fieldsText = expansion;
  }
  const parts = fieldsText.split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) {
    throw new CronParseError(
      `expected 5 fields (minute hour day-of-month month day-of-week) or 6 (with seconds first), got ${parts.length} in "${source}"`,
    );
  }
  const seconds = parts.length === 6 ? parseField(parts[0] as string, SECOND).values : ZERO;
  const [minText, hourText, domText, monText, dowText] = parts.slice(parts.length - 5) as [string, string, string, string, string];
  const minute = parseField(minText, MINUTE);
  const hour = parseField(hourText, HOUR);
  const dom = parseField(domText, DAY_OF_MONTH);
  const month = parseField(monText, MONTH);
  const dow = parseField(dowText, DAY_OF_WEEK);
  const unrestricted = (t: string): boolean => t.startsWith('*') || t.startsWith('?');
  const nearest = dom.nearest.toArray();
  const nthKeys = dow.nth.toArray();
  const nth = nthKeys.length === 0 ? NONE : nthKeys.map((k): NthWeekday => ({ weekday: k >> 3, nth: k & 7 }));
  const lastOf = dow.lastOf.toArray();
  const extras = dom.last || dom.lastWeekday || nearest.length > 0 || nth.length > 0 || lastOf.length > 0;
  return finishSpec(
    {
      dialect: 'cron',
      source,
      fixed: !minText.startsWith('*') && !hourText.startsWith('*'),
      seconds: seconds.toArray(),
      minutes: minute.values.toArray(),
      hours: hour.values.toArray(),
      daysOfMonth: dom.values.toArray(),
      lastDayOfMonth: dom.last,
      lastWeekdayOfMonth: dom.lastWeekday,
      nearestWeekdays: nearest,
      months: month.values.toArray(),
      daysOfWeek: dow.values.toArray(),
      nthDaysOfWeek: nth,
      lastDaysOfWeek: lastOf,
      dayRule: unrestricted(domText) || unrestricted(dowText) ? 'and' : 'or',
      masks: masksOf(
        { seconds, minutes: minute.values, hours: hour.values, daysOfMonth: dom.values, months: month.values, daysOfWeek: dow.values },
        extras,
      ),
    },
    () => ({ dayOfMonth: ['day-of-month', domText], month: ['month', monText], dayOfWeek: ['day-of-week', dowText] }),
  );
}

function parseField(text: string, def: FieldDef): FieldResult {
  const out: FieldResult = {
    values: new ValueBits(),
    last: false,
    lastWeekday: false,
    nearest: new ValueBits(),
    nth: new ValueBits(),
    lastOf: new ValueBits(),
  };
  const isDay = def.key === 'dayOfMonth' || def.key === 'dayOfWeek';
  const fold = def.key === 'dayOfWeek' ? 7 : 64;
  if (text === '*') {
    // The commonest field by far: skip the general path (parsing 100,000 entries must stay fast).
    for (let v = def.min; v <= def.max; v++) out.values.add(v % fold);
    return out;
  }
  const value = (tok: string): number => fieldValue(tok, text, def);
  for (const element of text.split(',')) {
    if (element === '') throw fieldError(text, def, 'empty entry in the list');
    const slash = element.split('/');
    if (slash.length > 2) throw fieldErrorAt(text, def, element, 'more than one "/"');
    const base = slash[0] as string;
    const step = slash.length === 2 ? stepOf(element, slash[1] as string, text, def) : 1;
    if (isDay && slash.length === 1 && special(element, def, out, value, (problem) => fieldErrorAt(text, def, element, problem))) continue;
    let lo: number;
    let hi: number;
    if (base === '*' || (base === '?' && isDay)) {
      lo = def.min;
      hi = def.max;
    } else if (base.includes('-')) {
      const ends = base.split('-');
      if (ends.length !== 2 || ends[0] === '' || ends[1] === '') throw fieldErrorAt(text, def, element, 'expected a range like 1-5');
      if (/^L$/i.test(ends[0] as string)) throw fieldErrorAt(text, def, element, 'L-n (days before the last) is not supported');
      lo = value(ends[0] as string);
      hi = value(ends[1] as string);
      // cronie: a day-of-week range ending on Sunday-as-0 ends on Sunday-as-7 (FRI-SUN).
      if (def.key === 'dayOfWeek' && hi === 0 && lo > 0) hi = 7;
      if (lo > hi)
        throw fieldError(text, def, `range ${base} goes backwards; for a range that wraps around write "${wrapHint(lo, hi, def)}"`);
    } else {
      if (isDay && slash.length === 2 && (DOM_SPECIAL.test(base) || DOW_SPECIAL.test(base)))
        throw fieldErrorAt(text, def, element, 'a step cannot follow L, W or #');
      lo = value(base);
      hi = slash.length === 2 ? def.max : lo; // n/step = n-max/step, as cron-parser and Quartz read it
    }
    for (let v = lo; v <= hi; v += step) out.values.add(v % fold);
  }
  return out;
}

/** A problem of a field, naming the field and its text. */
function fieldError(text: string, def: FieldDef, problem: string): CronParseError {
  return new CronParseError(`${def.label} field "${text}": ${problem}`, def.key);
}

/** A problem of one entry of a field's list: names the entry too, when the field has more than one. */
function fieldErrorAt(text: string, def: FieldDef, token: string, problem: string): CronParseError {
  return fieldError(text, def, token === text ? problem : `"${token}": ${problem}`);
}

/** One value of the field `text`: a number within the field's range, or one of its names (JAN, MON). */
function fieldValue(tok: string, text: string, def: FieldDef): number {
  if (/^\d+$/.test(tok)) {
    const n = Number(tok);
    // Quoted when too long for a number: "1111…" (100,000 digits) is not "Infinity".
    if (n < def.min || n > def.max)
      throw fieldError(text, def, `${Number.isSafeInteger(n) ? n : `"${tok}"`} is out of range ${def.min}-${def.max}`);
    return n;
  }
  const i = def.names?.indexOf(tok.toLowerCase()) ?? -1;
  if (i >= 0) return def.key === 'month' ? i + 1 : i;
  if (/^H(\(|\/|$)/.test(tok))
    throw fieldErrorAt(
      text,
      def,
      tok,
      "H (Jenkins' hashed value) is taken in an entry's own `cron` schedule only, where the entry's name seeds it",
    );
  const isDay = def.key === 'dayOfMonth' || def.key === 'dayOfWeek';
  if (!isDay && DAY_ONLY.test(tok))
    throw fieldErrorAt(text, def, tok, 'L, W, # and ? are only allowed in the day-of-month and day-of-week fields');
  const allowed = def.key === 'month' ? ' or JAN-DEC' : def.key === 'dayOfWeek' ? ' or SUN-SAT' : '';
  throw fieldError(text, def, `"${tok}" is not a valid value; use ${def.min}-${def.max}${allowed}`);
}

/** The step after an entry's "/": a whole number from 1 to the field's span. */
function stepOf(element: string, stepText: string, text: string, def: FieldDef): number {
  const span = def.max - def.min;
  if (!/^\d+$/.test(stepText)) throw fieldErrorAt(text, def, element, `step "${stepText}" is not a number`);
  const step = Number(stepText);
  // A step wider than the field can only ever hit the start value: almost always a
  // misreading of "*/90" as "every 90 minutes", which cron cannot express.
  if (step < 1 || step > span) throw fieldErrorAt(text, def, element, `step ${step} is out of range 1-${span}`);
  return step;
}

function wrapHint(lo: number, hi: number, def: FieldDef): string {
  // Day-of-week: 7 is Sunday, so the low part can start at Monday.
  const min = def.key === 'dayOfWeek' ? 1 : def.min;
  const upper = lo === def.max ? `${lo}` : `${lo}-${def.max}`;
  const lower = hi === min ? `${hi}` : `${min}-${hi}`;
  return `${upper},${lower}`;
}

/** Handles L, LW, nW (day-of-month) and nL, n#k (day-of-week); false if `el` is none of them. */
function special(
  el: string,
  def: FieldDef,
  out: FieldResult,
  value: (tok: string) => number,
  fail: (problem: string) => CronParseError,
): boolean {
  if (def.key === 'dayOfMonth') {
    if (/^L$/i.test(el)) out.last = true;
    else if (/^LW$/i.test(el)) out.lastWeekday = true;
    else if (/^\d+W$/i.test(el)) out.nearest.add(value(el.slice(0, -1)));
    else return false;
    return true;
  }
  if (/^L$/i.test(el)) throw fail('"L" alone is ambiguous in day-of-week; write e.g. 5L for the last Friday of the month');
  const hash = /^(\d+|[a-z]{3})#(.*)$/i.exec(el);
  if (hash !== null) {
    const weekday = value(hash[1] as string) % 7;
    const nth = hash[2] as string;
    if (!/^[1-5]$/.test(nth)) throw fail('the occurrence after # must be 1-5');
    out.nth.add(weekday * 8 + Number(nth));
    return true;
  }
  if (/^(\d+|[a-z]{3})L$/i.test(el)) {
    out.lastOf.add(value(el.slice(0, -1)) % 7);
    return true;
  }
  return false;
}
