/**
 * A crontab file read line by line as cron reads it (cronie's src/env.c `load_env` and src/entry.c
 * `load_entry`, crontab(5)): comments and blank lines, `NAME=value` lines (quoted or not), jobs in
 * the user format (`m h dom mon dow command`) or the system format of /etc/crontab and /etc/cron.d
 * (`m h dom mon dow user command`), `@nicknames`, and `%` in commands. Each job's time fields are
 * validated by tsbeat's own crontab line parser, the one `{ cron: … }` schedules use.
 */
import { CronParseError, checkHashedLine, isHashedLine, parseCronLine } from '../core/cron/index.js';
import { isValidZone } from '../time/zone.js';
import { shown } from '../base/errors.js';

/** One job line, with the environment and zone in force where it stands. */
export interface CrontabJob {
  readonly line: number;
  /** The five time fields joined by one space, or the nickname: what `{ cron: … }` takes. */
  readonly schedule: string;
  /** The command up to its first unescaped `%`, with `\%` turned into `%`: what the shell runs. */
  readonly command: string;
  /** What follows the first `%`, as cron feeds it to the command's standard input (`%` → newline). */
  readonly input?: string;
  /** The 6th field of the system format. */
  readonly user?: string;
  /** Every `NAME=value` line above the job, in order, later ones winning (cron passes them all). */
  readonly env: Readonly<Record<string, string>>;
  /** CRON_TZ, else TZ, in force; undefined for the config's zone. */
  readonly zone?: string;
}

/** Something cron would do that the imported config will not: listed, never silently dropped. */
export interface CrontabNote {
  readonly line: number;
  readonly message: string;
}

export interface ParsedCrontab {
  readonly jobs: CrontabJob[];
  /** Lines kept with a difference, and lines not imported (@reboot). */
  readonly notes: CrontabNote[];
  /** Lines cron itself would refuse, or tsbeat cannot read: the import stops. */
  readonly problems: CrontabNote[];
}

/** Environment variables cron itself acts on, and what becomes of each under tsbeat. */
const CRON_OWN_VARIABLES: Readonly<Record<string, string>> = {
  MAILTO:
    "cron mails a job's output to MAILTO; tsbeat does not: the example task (examples/cron_tasks.py) logs it, and a failed run shows in beat history and the dashboard with the config's taskEvents: true (written here) and workers started with -E",
  MAILFROM: "cron mails a job's output from MAILFROM; tsbeat does not mail",
  CONTENT_TYPE: 'a header of the mail cron sends; tsbeat does not mail',
  CONTENT_TRANSFER_ENCODING: 'a header of the mail cron sends; tsbeat does not mail',
  RANDOM_DELAY:
    "cronie delays every job by up to RANDOM_DELAY minutes; not carried over (tsbeat's per-entry `jitter` is the nearest setting)",
};

/**
 * A `NAME=value` line, exactly as cronie's load_env reads it: the name and the value may each be
 * quoted ('…' or "…"); an unquoted value runs to the end of the line less trailing blanks; blanks
 * around `=` are skipped. Undefined when the line is not one (it is then a job line).
 */
export function parseEnvLine(text: string): { name: string; value: string } | undefined {
  const m = /^(?:'([^'=]*)'|"([^"=]*)"|([^\s='"][^\s=]*))[ \t]*=[ \t]*(.*)$/.exec(text);
  if (m === null) return undefined;
  const name = m[1] ?? m[2] ?? m[3] ?? '';
  const rest = m[4] ?? '';
  const quote = rest[0];
  if (quote === '"' || quote === "'") {
    const end = rest.indexOf(quote, 1);
    // An unclosed quote, or anything but blanks after the closing one: not an assignment for cron.
    if (end < 0 || rest.slice(end + 1).trim() !== '') return undefined;
    return { name, value: rest.slice(1, end) };
  }
  // cronie refuses `NAME=` with nothing after it (it reads as a bad job line); everyone means "empty".
  return { name, value: rest.replace(/[ \t]+$/, '') };
}

/**
 * Splits a command at its first unescaped `%` as cron's do_command.c does: before it, `\%` becomes
 * `%` and other backslashes stay; after it, every unescaped `%` becomes a newline, `\%` a `%`, and a
 * newline ends the input if it does not already.
 */
export function splitPercent(text: string): { command: string; input?: string } {
  let command = '';
  let i = 0;
  for (; i < text.length; i += 1) {
    const c = text[i] as string;
    if (c === '\\' && text[i + 1] === '%') {
      command += '%';
      i += 1;
    } else if (c === '\\' && i + 1 < text.length) {
      command += c + (text[i + 1] as string);
      i += 1;
    } else if (c === '%') break;
    else command += c;
  }
  if (i >= text.length) return { command };
  let input = '';
  for (let j = i + 1; j < text.length; j += 1) {
    const c = text[j] as string;
    if (c === '\\' && text[j + 1] === '%') {
      input += '%';
      j += 1;
    } else input += c === '%' ? '\n' : c;
  }
  if (input === '') return { command };
  return { command, input: input.endsWith('\n') ? input : `${input}\n` };
}

const JOB_FIELDS = /^(\S+)[ \t]+(\S+)[ \t]+(\S+)[ \t]+(\S+)[ \t]+(\S+)(?:[ \t]+(.*))?$/;
const NICKNAME = /^(@\S+)(?:[ \t]+(.*))?$/;

/** The `NAME=value` lines read so far: every one of them, and the zones in force. */
interface EnvInForce {
  readonly vars: Record<string, string>;
  cronTz: string | undefined;
  tz: string | undefined;
}

/** Reads a whole crontab; `system` for the format with a user field. */
export function parseCrontab(text: string, system: boolean): ParsedCrontab {
  const parsed: ParsedCrontab = { jobs: [], notes: [], problems: [] };
  const env: EnvInForce = { vars: {}, cronTz: undefined, tz: undefined };
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const line = index + 1;
    const body = raw.replace(/\r$/, '').replace(/^[ \t]+/, '');
    if (body === '' || body.startsWith('#')) return;
    const assignment = parseEnvLine(body);
    if (assignment !== undefined) readAssignment(line, assignment, env, parsed);
    else readJob(line, body, system, env, parsed);
  });
  return parsed;
}

/** A `NAME=value` line: kept for the jobs below it, a zone checked, a variable cron acts on noted. */
function readAssignment(line: number, { name, value }: { name: string; value: string }, env: EnvInForce, parsed: ParsedCrontab): void {
  if ((name === 'CRON_TZ' || name === 'TZ') && value !== '' && !isValidZone(value)) {
    parsed.problems.push({
      line,
      message: `${name}=${shown(value)} is not a time zone tsbeat knows; use an IANA name such as "Europe/Berlin" or "UTC"`,
    });
    return;
  }
  env.vars[name] = value;
  if (name === 'CRON_TZ') env.cronTz = value === '' ? undefined : value;
  if (name === 'TZ') env.tz = value === '' ? undefined : value;
  const own = CRON_OWN_VARIABLES[name];
  if (own !== undefined && value !== '') parsed.notes.push({ line, message: `${name}: ${own}; still passed to the commands in env` });
}

/** A job line: its schedule, then its user and command; a job, or a problem (or a note) saying why not. */
function readJob(line: number, body: string, system: boolean, env: EnvInForce, parsed: ParsedCrontab): void {
  const timed = jobSchedule(line, body, system, parsed);
  if (timed === undefined) return;
  const run = jobCommand(line, timed.rest, system, parsed);
  if (run === undefined) return;
  const { command, input } = splitPercent(run.rest);
  const zone = env.cronTz ?? env.tz;
  parsed.jobs.push({
    line,
    schedule: timed.schedule,
    command,
    ...(input === undefined ? {} : { input }),
    ...(run.user === undefined ? {} : { user: run.user }),
    env: { ...env.vars },
    ...(zone === undefined ? {} : { zone }),
  });
}

/** A job line's time fields or @nickname, checked, and the text after them; undefined when the line has no schedule to import. */
function jobSchedule(line: number, body: string, system: boolean, parsed: ParsedCrontab): { schedule: string; rest: string } | undefined {
  let jobText = body;
  if (jobText.startsWith('-')) {
    // cronie: a leading "-" keeps cron from logging the job to syslog.
    jobText = jobText.slice(1);
    parsed.notes.push({
      line,
      message: 'the leading "-" (do not log this job to syslog) has no meaning under tsbeat: every run is logged',
    });
  }
  const nick = NICKNAME.exec(jobText);
  const fields = nick === null ? JOB_FIELDS.exec(jobText) : null;
  if (nick === null && fields === null) {
    parsed.problems.push({
      line,
      message: `expected five time fields (minute hour day-of-month month day-of-week) or an @nickname, then ${system ? 'a user and ' : ''}a command`,
    });
    return undefined;
  }
  const schedule = nick !== null ? (nick[1] as string) : fields!.slice(1, 6).join(' ');
  const rest = (nick !== null ? nick[2] : fields![6]) ?? '';
  if (schedule.toLowerCase() === '@reboot') {
    parsed.notes.push({
      line,
      message: '@reboot runs once when cron starts, which is not a schedule: not imported (run it from your service manager instead)',
    });
    return undefined;
  }
  try {
    // Jenkins' H stays H: the imported entry's own name seeds it (docs/schedules.md, "Hashed times").
    if (isHashedLine(schedule)) checkHashedLine(schedule);
    else parseCronLine(schedule);
  } catch (error) {
    if (!(error instanceof CronParseError)) throw error;
    parsed.problems.push({ line, message: `${error.message}; fix the time fields (see docs/schedules.md, form \`cron\`)` });
    return undefined;
  }
  return { schedule, rest };
}

/** What follows a job's schedule: the user (system format) and the command, checked as cronie checks them. */
function jobCommand(
  line: number,
  afterSchedule: string,
  system: boolean,
  parsed: ParsedCrontab,
): { user?: string; rest: string } | undefined {
  let rest = afterSchedule;
  let user: string | undefined;
  if (system) {
    const m = /^(\S+)(?:[ \t]+(.*))?$/.exec(rest);
    user = m?.[1];
    rest = m?.[2] ?? '';
    if (user === undefined) {
      parsed.problems.push({
        line,
        message:
          'no user and no command after the time fields; the system format (/etc/crontab, --system) is "m h dom mon dow user command"',
      });
      return undefined;
    }
  }
  if (rest.trim() === '') {
    parsed.problems.push({
      line,
      message: `no command after the ${system ? 'user' : 'time fields'}${system ? '' : ' (a system crontab? pass --system)'}`,
    });
    return undefined;
  }
  if (rest.startsWith('*')) {
    // cronie's "common typo" check: a sixth time field.
    parsed.problems.push({
      line,
      message: 'the command starts with "*": a sixth time field? A crontab line has five (minute hour day-of-month month day-of-week)',
    });
    return undefined;
  }
  if (!system && /^root\s/.test(rest)) {
    parsed.notes.push({
      line,
      message: 'the command starts with "root": a system crontab (/etc/crontab format, with a user field)? pass --system',
    });
  }
  return user === undefined ? { rest } : { user, rest };
}
