/**
 * Short English for a cron spec, for the `beat check` table: "at 02:30 every day",
 * "every 15 minutes", "at minute 0 past every 2nd hour", "at 09:00 on Mon–Fri".
 * Only shapes that can be said exactly are described; anything else falls back to the source
 * (`cron "…"` or `crontab(…)`), which is never wrong.
 */
import { DAY_NAMES, MONTH_NAMES, joinWords, type CronSpec } from './spec.js';

export function describeCron(spec: CronSpec): string {
  const time = describeTime(spec);
  const days = describeDays(spec);
  if (time === undefined || days === undefined) return spec.dialect === 'cron' ? `cron "${spec.source}"` : spec.source;
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
  return undefined;
}

/** text '' for every day; undefined when the day rule is too intricate to say briefly. */
function describeDays(spec: CronSpec): { text: string; saysMonth: boolean } | undefined {
  const text = dayText(spec);
  if (text === undefined) return undefined;
  return { text, saysMonth: /^on \d+ [A-Z]/.test(text) };
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
