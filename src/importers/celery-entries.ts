/**
 * `beat_schedule` entries, as the dump script describes them, as tsbeat entries. A crontab keeps
 * the fields as written where tsbeat's Celery crontab parser expands them to the very sets Celery
 * did, else the sets themselves; an entry tsbeat cannot express is left out and said why.
 */
import { CronParseError, parseCeleryCrontab } from '../core/cron/index.js';
import type { CronSpec, CrontabFieldValue } from '../core/cron/index.js';

/** Something of the app that the config does not carry over; `where` names it. */
export interface ImportNote {
  readonly where: string;
  readonly message: string;
}

export interface DumpedEntry {
  readonly name: string;
  readonly invalid?: string;
  readonly task?: unknown;
  readonly schedule?: DumpedSchedule;
  readonly args?: unknown;
  readonly kwargs?: unknown;
  readonly options?: unknown;
  readonly extra_keys?: string[];
}

export type DumpedSchedule =
  | { type: 'interval'; seconds: number; relative: boolean; nowfun?: boolean }
  | { type: 'crontab'; orig: Record<string, unknown>; sets: Record<string, number[]>; nowfun: boolean }
  | { type: 'solar'; event: string; lat: unknown; lon: unknown; nowfun: boolean }
  | { type: 'unknown'; class: string; repr: string };

/** Celery's field name, tsbeat's, and the CronSpec list holding its expansion. */
const CRON_FIELDS = [
  ['minute', 'minute', 'minutes'],
  ['hour', 'hour', 'hours'],
  ['day_of_week', 'dayOfWeek', 'daysOfWeek'],
  ['day_of_month', 'dayOfMonth', 'daysOfMonth'],
  ['month_of_year', 'monthOfYear', 'months'],
] as const;

/** apply_async options tsbeat takes, by Celery's name. */
const OPTION_NAMES: Readonly<Record<string, string>> = {
  queue: 'queue',
  exchange: 'exchange',
  exchange_type: 'exchangeType',
  routing_key: 'routingKey',
  priority: 'priority',
  expires: 'expires',
  countdown: 'countdown',
  headers: 'headers',
  time_limit: 'timeLimit',
  soft_time_limit: 'softTimeLimit',
  ignore_result: 'ignoreResult',
  shadow: 'shadow',
  delivery_mode: 'deliveryMode',
};

class Inexpressible extends Error {}

/** A marked value of the dump (`{__tsbeat__: …}`) anywhere inside `value`: what JSON cannot hold. */
function unsupportedIn(value: unknown): string | undefined {
  if (Array.isArray(value)) {
    for (const v of value) {
      const found = unsupportedIn(v);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const record = value as Record<string, unknown>;
  if (record.__tsbeat__ === 'datetime') return `the datetime ${String(record.iso)}`;
  if (record.__tsbeat__ === 'unsupported') return `a ${String(record.type)} (${String(record.repr)})`;
  for (const v of Object.values(record)) {
    const found = unsupportedIn(v);
    if (found !== undefined) return found;
  }
  return undefined;
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function crontabOf(dumped: Extract<DumpedSchedule, { type: 'crontab' }>): Record<string, CrontabFieldValue> {
  const out: Record<string, CrontabFieldValue> = {};
  for (const [celery, ours, list] of CRON_FIELDS) {
    const orig = dumped.orig[celery];
    const expanded = dumped.sets[celery] ?? [];
    if (orig === '*') continue;
    let spec: CronSpec | undefined;
    if (typeof orig === 'string' || typeof orig === 'number' || Array.isArray(orig)) {
      try {
        spec = parseCeleryCrontab({ [ours]: orig as CrontabFieldValue });
      } catch (error) {
        if (!(error instanceof CronParseError)) throw error;
      }
    }
    // Written as Celery expanded it where tsbeat reads the text otherwise (or not at all).
    out[ours] =
      spec !== undefined &&
      sameSet(
        [...spec[list]].sort((x, y) => x - y),
        expanded,
      )
        ? (orig as CrontabFieldValue)
        : expanded;
  }
  return out;
}

function scheduleOf(
  dumped: DumpedSchedule | undefined,
  cronDeadline: number | undefined,
): { schedule: unknown; relative?: boolean; catchUpWindow?: number } {
  if (dumped === undefined) throw new Inexpressible('no schedule');
  if (dumped.type === 'unknown')
    throw new Inexpressible(
      `its schedule is a ${dumped.class} (${dumped.repr}), a custom schedule class whose times only its own code knows; write it as a crontab, cron, rrule, interval or solar schedule by hand`,
    );
  if ('nowfun' in dumped && dumped.nowfun === true)
    throw new Inexpressible('its schedule has a custom nowfun (its own clock), which tsbeat cannot follow');
  if (dumped.type === 'interval') return { schedule: dumped.seconds, ...(dumped.relative ? { relative: true } : {}) };
  if (dumped.type === 'solar') return { schedule: { solar: { event: dumped.event, lat: dumped.lat, lon: dumped.lon } } };
  // beat_cron_starting_deadline (Celery 5.3+) is the missed-run window of crontab entries only.
  return { schedule: { crontab: crontabOf(dumped) }, ...(cronDeadline === undefined ? {} : { catchUpWindow: cronDeadline }) };
}

/** apply_async's callback options, by Celery's name: tsbeat's signature keys (docs/canvas.md). */
const CALLBACK_NAMES: Readonly<Record<string, 'link' | 'linkError'>> = { link: 'link', link_error: 'linkError' };

const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * A `link` / `link_error` option as tsbeat's signatures: Celery takes one signature or a list, and
 * the dump writes each as the dict a Signature is (task, args, kwargs, options, subtask_type,
 * immutable). A chain, group or chord there is a canvas tsbeat's callbacks do not hold.
 */
function callbacksOf(value: unknown, notes: ImportNote[], where: string, path: string): Record<string, unknown>[] {
  const list = Array.isArray(value) ? value : [value];
  return list.map((sig, i) => signatureOf(sig, notes, where, Array.isArray(value) ? `${path}[${i}]` : path));
}

/** `path`: the signature's place under the entry at `where` (`options.link[0]`), for what is said about it. */
function signatureOf(value: unknown, notes: ImportNote[], where: string, path: string): Record<string, unknown> {
  if (!isRecord(value) || typeof value.task !== 'string')
    throw new Inexpressible(`its ${path} is not a signature (${JSON.stringify(value)?.slice(0, 80) ?? String(value)})`);
  if (value.subtask_type !== null && value.subtask_type !== undefined)
    throw new Inexpressible(
      `its ${path} is a ${String(value.subtask_type)}, and a callback in tsbeat is a signature: link a signature, or write the canvas as the entry's chain, group or chord by hand`,
    );
  const marked = unsupportedIn([value.args, value.kwargs]);
  if (marked !== undefined) throw new Inexpressible(`its ${path} holds ${marked}, which JSON cannot carry as Celery would send it`);
  const args = Array.isArray(value.args) ? value.args : [];
  const kwargs = isRecord(value.kwargs) ? value.kwargs : {};
  const { options, callbacks } = optionsOf(value.options ?? {}, notes, where, `${path}.`);
  return {
    task: value.task,
    ...(args.length > 0 ? { args } : {}),
    ...(Object.keys(kwargs).length > 0 ? { kwargs } : {}),
    ...(Object.keys(options).length > 0 ? { options } : {}),
    ...(value.immutable === true ? { immutable: true } : {}),
    ...callbacks,
  };
}

function optionsOf(
  options: unknown,
  notes: ImportNote[],
  where: string,
  path = '',
): { options: Record<string, unknown>; callbacks: Partial<Record<'link' | 'linkError', Record<string, unknown>[]>> } {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new Inexpressible('options is not a dict');
  const out: Record<string, unknown> = {};
  const callbacks: Partial<Record<'link' | 'linkError', Record<string, unknown>[]>> = {};
  for (const [key, value] of Object.entries(options as Record<string, unknown>)) {
    const callback = CALLBACK_NAMES[key];
    if (callback !== undefined) {
      if (value !== null) callbacks[callback] = callbacksOf(value, notes, where, `${path}options.${key}`);
      continue;
    }
    const ours = OPTION_NAMES[key];
    const marked = unsupportedIn(value);
    if (ours === undefined)
      notes.push({ where: `${where}.${path}options.${key}`, message: `tsbeat does not send the apply_async option "${key}"; left out` });
    else if (key === 'expires' && marked !== undefined && (value as { naive?: boolean }).naive === false)
      out[ours] = (value as { iso: string }).iso;
    else if (marked !== undefined)
      notes.push({ where: `${where}.${path}options.${key}`, message: `${marked} cannot be written in the config; left out` });
    else out[ours] = value;
  }
  return { options: out, callbacks };
}

/** The entry as tsbeat writes it, or undefined with a note saying why not. */
export function entryOf(dumped: DumpedEntry, cronDeadline: number | undefined, notes: ImportNote[]): Record<string, unknown> | undefined {
  const where = `beat_schedule[${JSON.stringify(dumped.name)}]`;
  try {
    if (dumped.invalid !== undefined) throw new Inexpressible(`the entry is ${dumped.invalid}`);
    if (typeof dumped.task !== 'string') throw new Inexpressible('it names no task');
    for (const key of dumped.extra_keys ?? [])
      notes.push({ where: `${where}.${key}`, message: `"${key}" is not a beat_schedule entry key tsbeat reads; left out` });
    for (const [what, value] of [
      ['args', dumped.args],
      ['kwargs', dumped.kwargs],
    ] as const) {
      const marked = unsupportedIn(value);
      if (marked !== undefined) throw new Inexpressible(`its ${what} hold ${marked}, which JSON cannot carry as Celery would send it`);
    }
    if (!Array.isArray(dumped.args)) throw new Inexpressible('its args are not a list or tuple');
    const { schedule, relative, catchUpWindow } = scheduleOf(dumped.schedule, cronDeadline);
    // A `link` / `link_error` option is the entry's callbacks (docs/canvas.md), as Celery beat's apply_async passes it.
    const { options, callbacks } = optionsOf(dumped.options ?? {}, notes, where);
    const kwargs = dumped.kwargs as Record<string, unknown>;
    return {
      task: dumped.task,
      schedule,
      ...(dumped.args.length > 0 ? { args: dumped.args } : {}),
      ...(Object.keys(kwargs).length > 0 ? { kwargs } : {}),
      ...(Object.keys(options).length > 0 ? { options } : {}),
      ...callbacks,
      ...(relative === undefined ? {} : { relative }),
      ...(catchUpWindow === undefined ? {} : { catchUpWindow }),
    };
  } catch (error) {
    if (!(error instanceof Inexpressible)) throw error;
    notes.push({ where, message: `${error.message}: not imported` });
    return undefined;
  }
}
