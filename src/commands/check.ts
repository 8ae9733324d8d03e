/** `beat check`: validate a config and show what it schedules. Needs no Redis. */
import { describeSchedule, nextFires } from '../core/schedule.js';
import { entryWindow } from '../config/resolve.js';
import type { ResolvedEntry } from '../config/resolve.js';
import { formatInstant } from '../time/zone.js';
import { parseCommandArgs } from './args.js';
import { CONFIG_HELP, configOption, loadFromArgs } from './config-args.js';
import { ExitCode } from './io.js';
import type { Io } from './io.js';
import { renderTable } from './table.js';

export const CHECK_HELP = `Usage: beat check [--config PATH]

Validates the config and prints a table of its entries: name, task, the schedule in words (with
its startAt, endAt and maxRuns), time zone and next fire. Exits 0 when the config is valid, 2 with every problem listed on stderr when not.
Needs no Redis and no broker.

Options:
${CONFIG_HELP}
  -h, --help          show this help
`;

export async function checkCommand(argv: string[], io: Io): Promise<ExitCode> {
  const { values } = parseCommandArgs('check', argv, { ...configOption, help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    io.out(CHECK_HELP);
    return ExitCode.Ok;
  }
  const { source, config } = await loadFromArgs(io, values.config);
  const now = io.now();
  const rows = config.entries.map((entry) => {
    const window = entryWindow(entry);
    const next = entry.enabled ? nextFires(entry.schedule, { zone: entry.timezone, afterMs: now, window }, 1)[0] : undefined;
    const nextText = !entry.enabled ? 'disabled' : next === undefined ? 'never (no future fire)' : formatInstant(next, entry.timezone);
    return [entry.name, entry.task, describeEntrySchedule(entry), entry.timezone, nextText];
  });
  io.out(renderTable(['NAME', 'TASK', 'SCHEDULE', 'TIMEZONE', 'NEXT'], rows));
  const n = config.entries.length;
  io.out(`${source}: valid, ${n} entr${n === 1 ? 'y' : 'ies'}`);
  return ExitCode.Ok;
}

/** The schedule in words, with the entry's limits: "every 1h, from 2027-01-01T09:00:00+01:00, at most 3 runs". */
function describeEntrySchedule(entry: ResolvedEntry): string {
  const parts = [describeSchedule(entry.schedule, entry.timezone)];
  if (entry.startAtMs !== undefined) parts.push(`from ${formatInstant(entry.startAtMs, entry.timezone)}`);
  if (entry.endAtMs !== undefined) parts.push(`until before ${formatInstant(entry.endAtMs, entry.timezone)}`);
  if (entry.maxRuns !== undefined) parts.push(entry.maxRuns === 1 ? 'once only' : `at most ${entry.maxRuns} runs`);
  return parts.join(', ');
}
