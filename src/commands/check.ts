/** `beat check`: validate a config and show what it schedules. Needs no Redis. */
import { describeSchedule, nextFires } from '../core/schedule.js';
import { formatInstant } from '../time/zone.js';
import { parseCommandArgs } from './args.js';
import { CONFIG_HELP, configOption, loadFromArgs } from './config-args.js';
import { ExitCode } from './io.js';
import type { Io } from './io.js';
import { renderTable } from './table.js';

export const CHECK_HELP = `Usage: beat check [--config PATH]

Validates the config and prints a table of its entries: name, task, the schedule in words, time
zone and next fire. Exits 0 when the config is valid, 2 with every problem listed on stderr when not.
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
    const next = entry.enabled ? nextFires(entry.schedule, { zone: entry.timezone, afterMs: now }, 1)[0] : undefined;
    const nextText = !entry.enabled ? 'disabled' : next === undefined ? 'never (no future fire)' : formatInstant(next, entry.timezone);
    return [entry.name, entry.task, describeSchedule(entry.schedule, entry.timezone), entry.timezone, nextText];
  });
  io.out(renderTable(['NAME', 'TASK', 'SCHEDULE', 'TIMEZONE', 'NEXT'], rows));
  const n = config.entries.length;
  io.out(`${source}: valid, ${n} entr${n === 1 ? 'y' : 'ies'}`);
  return ExitCode.Ok;
}
