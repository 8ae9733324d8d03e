/**
 * Short English for a cron spec, for `beat check`, `beat status`, `beat entries list` and the
 * dashboard: "at 02:30 every day", "every 15 minutes", "at minute 0 past every 2nd hour", "at 09:00
 * on Mon–Fri", "every 30 minutes from 01:00 to 03:30". Every spec is said in words, exactly (a
 * schedule shown as code, `crontab(minute='*\/30', hour='1-3')`, read as a program to the
 * people who read the rest in words); the spec's source, Celery's repr, stays what it is where
 * it is data.
 */
import { DAY_NAMES, MONTH_NAMES, joinWords, type CronSpec } from './spec.js';

export function describeCron(spec: CronSpec): string {
  const time = describeTime(spec) ?? describeAnyTime(spec);
  const days = describeDays(spec);
  const parts = [time.text];
  if (days.text !== '') parts.push(days.text);
  else if (time.once) parts.push('every day');
  if (spec.months.length < 12 && !days.saysMonth) {
    parts.push(
      `in ${joinWords(
        spec.months.map((m) => MONTH_NAMES[m - 1] as string),
        'and',
      )}`,
    );
  }
  // The real times, and where they come from: `H` is never shown as such (docs/schedules.md).
  if (spec.hashedFrom !== undefined) parts.push(`(${spec.source}, hashed from ${spec.hashedFrom})`);
  return parts.join(' ');
}

const hhmm = (h: number, m: number): string => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;

/** n when values are exactly 0, n, 2n, … and n divides the field evenly (so the rhythm is real). */
function evenStep(values: readonly number[], size: number): number | undefined {
  const n = values[1];
  if (n === undefined || values[0] !== 0 || size % n !== 0 || values.length !== size / n) return undefined;
  return values.every((v, i) => v === i * n) ? n : undefined;
}

function ordinal(n: number): string {
  const suffix = n % 10 === 1 && n !== 11 ? 'st' : n % 10 === 2 && n !== 12 ? 'nd' : n % 10 === 3 && n !== 13 ? 'rd' : 'th';
  return `${n}${suffix}`;
}

/** `once`: the phrase names points in the day ("at 02:30"), so "every day" reads well after it. */
function describeTime(spec: CronSpec): { text: string; once: boolean } | undefined {
  const { minutes, hours } = spec;
  if (spec.seconds.length !== 1 || spec.seconds[0] !== 0) return undefined;
  const allHours = hours.length === 24;
  const minuteStep = minutes.length === 60 ? 1 : evenStep(minutes, 60);
  const only = minutes.length === 1 ? (minutes[0] as number) : undefined;
  if (allHours && minuteStep !== undefined) return { text: minuteStep === 1 ? 'every minute' : `every ${minuteStep} minutes`, once: false };
  if (allHours && only !== undefined) return { text: only === 0 ? 'every hour' : `at minute ${only} past every hour`, once: false };
  const hourStep = evenStep(hours, 24);
  if (hourStep !== undefined && only !== undefined) return { text: `at minute ${only} past every ${ordinal(hourStep)} hour`, once: false };
  const first = hours[0] as number;
  const last = hours[hours.length - 1] as number;
  // "every 15 minutes from 02:00 to 02:45" says "interval" better than a list of four times.
  if (minuteStep !== undefined && minutes.length > 2 && last - first === hours.length - 1) {
    const every = minuteStep === 1 ? 'every minute' : `every ${minuteStep} minutes`;
    return { text: `${every} from ${hhmm(first, 0)} to ${hhmm(last, minutes[minutes.length - 1] as number)}`, once: false };
  }
  if (minutes.length * hours.length <= 4) {
    const times = hours.flatMap((h) => minutes.map((m) => hhmm(h, m)));
    return { text: `at ${joinWords(times, 'and')}`, once: true };
  }
  // Two runs an hour over a range of hours (*\/30 1-3): a rhythm, as for more runs an hour above.
  if (minuteStep !== undefined && last - first === hours.length - 1) {
    return {
      text: `every ${minuteStep} minutes from ${hhmm(first, 0)} to ${hhmm(last, minutes[minutes.length - 1] as number)}`,
      once: false,
    };
  }
  return undefined;
}

/**
 * Any seconds, minutes and hours, in words: the shapes describeTime says better are not seen here.
 * "at minutes 5 and 35 past hours 8–18", "every 10 minutes during hours 8, 12 and 16", "every 10
 * seconds", "at second 30, at minute 2 past every hour".
 */
function describeAnyTime(spec: CronSpec): { text: string; once: boolean } {
  const { seconds, minutes, hours } = spec;
  const everySecond = seconds.length === 60 ? 1 : evenStep(seconds, 60);
  const allMinutes = minutes.length === 60;
  const allHours = hours.length === 24;
  if (everySecond !== undefined && allMinutes && allHours)
    return { text: everySecond === 1 ? 'every second' : `every ${everySecond} seconds`, once: false };
  const secondText =
    seconds.length === 1 && seconds[0] === 0
      ? undefined
      : everySecond !== undefined
        ? everySecond === 1
          ? 'every second'
          : `every ${everySecond} seconds`
        : `at ${plural('second', seconds)} ${listOf(seconds)}`;
  const minuteStep = allMinutes ? 1 : evenStep(minutes, 60);
  const every = minuteStep !== undefined;
  const minuteText = every
    ? minuteStep === 1
      ? 'every minute'
      : `every ${minuteStep} minutes`
    : `at ${plural('minute', minutes)} ${listOf(minutes)}`;
  const first = hours[0] as number;
  const last = hours[hours.length - 1] as number;
  const hourText = allHours
    ? every
      ? ''
      : 'past every hour'
    : every && last - first === hours.length - 1
      ? `from ${hhmm(first, 0)} to ${hhmm(last, 59)}`
      : `${every ? 'during' : 'past'} ${plural('hour', hours)} ${listOf(hours)}`;
  const text = [minuteText, hourText].filter((t) => t !== '').join(' ');
  return { text: secondText === undefined ? text : `${secondText}, ${text}`, once: false };
}

function plural(unit: string, values: readonly number[]): string {
  return values.length === 1 ? unit : `${unit}s`;
}

/** 5 → "5"; 1,2,3,4 → "1–4"; 0,7,…,56 → "0, 7, …, 56"; otherwise runs of three or more as ranges. */
function listOf(values: readonly number[]): string {
  const step = (values[1] ?? 0) - (values[0] ?? 0);
  if (values.length >= 4 && step > 1 && values.every((v, i) => v === (values[0] as number) + i * step)) {
    return `${values[0] as number}, ${values[1] as number}, …, ${values[values.length - 1] as number}`;
  }
  const groups: string[] = [];
  for (let i = 0; i < values.length;) {
    let j = i;
    while (j + 1 < values.length && (values[j + 1] as number) === (values[j] as number) + 1) j++;
    if (j - i >= 2) groups.push(`${values[i] as number}–${values[j] as number}`);
    else for (let k = i; k <= j; k++) groups.push(String(values[k]));
    i = j + 1;
  }
  return joinWords(groups, 'and');
}

/** text '' for every day. */
function describeDays(spec: CronSpec): { text: string; saysMonth: boolean } {
  const text = dayText(spec) ?? anyDayText(spec);
  return { text, saysMonth: /^on \d+ [A-Z]/.test(text) };
}

/**
 * Any day rule in words, for what dayText does not say briefly: cron's L, W and # forms, and both
 * day fields given. Vixie cron runs on a day either field names ("or"); Celery's crontab on a day
 * both name ("… when it is …").
 */
function anyDayText(spec: CronSpec): string {
  const byDate = [
    ...(spec.daysOfMonth.length === 31 || spec.daysOfMonth.length === 0
      ? []
      : [`${plural('day', spec.daysOfMonth)} ${listOf(spec.daysOfMonth)} of the month`]),
    ...(spec.lastDayOfMonth ? ['the last day of the month'] : []),
    ...(spec.lastWeekdayOfMonth ? ['the last weekday of the month'] : []),
    ...spec.nearestWeekdays.map((n) => `the weekday nearest day ${n} of the month`),
  ];
  const byWeekday = [
    ...(spec.daysOfWeek.length === 7 || spec.daysOfWeek.length === 0 ? [] : [weekdays(spec.daysOfWeek)]),
    ...spec.nthDaysOfWeek.map(({ weekday, nth }) => `the ${ordinal(nth)} ${DAY_NAMES[weekday] as string} of the month`),
    ...spec.lastDaysOfWeek.map((weekday) => `the last ${DAY_NAMES[weekday] as string} of the month`),
  ];
  if (spec.dayRule === 'or' || byDate.length === 0 || byWeekday.length === 0) return `on ${joinWords([...byDate, ...byWeekday], 'or')}`;
  return `on ${joinWords(byDate, 'or')} when it is ${joinWords(byWeekday, 'or')}`;
}

function dayText(spec: CronSpec): string | undefined {
  const extras =
    spec.lastWeekdayOfMonth || spec.nearestWeekdays.length > 0 || spec.nthDaysOfWeek.length > 0 || spec.lastDaysOfWeek.length > 0;
  if (extras) return undefined;
  const allDom = spec.daysOfMonth.length === 31 && !spec.lastDayOfMonth;
  const allDow = spec.daysOfWeek.length === 7;
  if (spec.dayRule === 'or' ? allDom || allDow : allDom && allDow) return '';
  if (spec.dayRule === 'or') return undefined;
  if (allDom) return `on ${weekdays(spec.daysOfWeek)}`;
  if (!allDow) return undefined;
  if (spec.lastDayOfMonth) return spec.daysOfMonth.length === 0 ? 'on the last day of the month' : undefined;
  const month = spec.months.length === 1 ? (spec.months[0] as number) : undefined;
  if (spec.daysOfMonth.length === 1 && month !== undefined)
    return `on ${spec.daysOfMonth[0] as number} ${MONTH_NAMES[month - 1] as string}`;
  const days = spec.daysOfMonth.map(String);
  return `on day${days.length === 1 ? '' : 's'} ${joinWords(days, 'and')} of the month`;
}

const mondayFirst = (weekday: number): number => (weekday === 0 ? 7 : weekday);

/** Weekdays Monday-first, runs of three or more as ranges: "Mon–Fri", "Sat and Sun". */
function weekdays(values: readonly number[]): string {
  const order = [1, 2, 3, 4, 5, 6, 0].filter((d) => values.includes(d));
  const groups: string[] = [];
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && mondayFirst(order[j + 1] as number) === mondayFirst(order[j] as number) + 1) j++;
    const a = DAY_NAMES[order[i] as number] as string;
    const b = DAY_NAMES[order[j] as number] as string;
    if (j - i >= 2) groups.push(`${a}–${b}`);
    else for (let k = i; k <= j; k++) groups.push(DAY_NAMES[order[k] as number] as string);
    i = j + 1;
  }
  return joinWords(groups, 'and');
}
