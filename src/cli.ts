#!/usr/bin/env -S node --max-semi-space-size=8
/**
 * `beat`: the command line. The only module that calls process.exit; every command returns an
 * exit code (0 ok, 1 runtime failure, 2 bad input) and writes through an injected Io.
 *
 * Run as `beat` (npm's bin, the container's entrypoint), the shebang starts Node with
 * --max-semi-space-size=8: Node's default young generation grows to tens of megabytes while a large
 * schedule loads and never gives them back, which made an idle scheduler of 10,000 entries weigh
 * ~145 MB instead of ~95 MB; bursts are as fast with 8 (bench: idle, burst).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkCommand } from './commands/check.js';
import { ExitCode, processIo, terminalIo } from './commands/io.js';
import type { Io } from './commands/io.js';
import { nextCommand } from './commands/next.js';
import { importCommand } from './commands/import.js';
import { entriesCommand } from './commands/entries.js';
import { runCommand } from './commands/run.js';
import { pauseCommand, resumeCommand, statusCommand, triggerCommand } from './commands/control.js';
import { historyCommand } from './commands/history.js';
import { backfillCommand } from './commands/backfill.js';
import { auditCommand } from './commands/audit.js';
import { BeatError, ErrorCode, clipQuoted, errorMessage, shown } from './base/errors.js';
import { DEFAULTS } from './base/defaults.js';
import { VERSION } from './base/version.js';

type Command = (argv: string[], io: Io) => Promise<ExitCode>;

const COMMANDS: Record<string, { run: Command; summary: string }> = {
  run: { run: runCommand, summary: 'run the scheduler (leader or standby); --dry-run to try a schedule without Redis' },
  check: { run: checkCommand, summary: 'validate the config and list its entries with their next fire' },
  next: { run: nextCommand, summary: 'print the next fire instants of each entry' },
  status: { run: statusCommand, summary: 'show the leader and every entry (last run, next run, paused, last outcome), from Redis' },
  history: { run: historyCommand, summary: "show an entry's last runs and their outcomes (with a resultBackend or taskEvents)" },
  audit: { run: auditCommand, summary: 'show who changed which entry, when, what and why (the audit trail)' },
  trigger: { run: triggerCommand, summary: 'publish one run of an entry now, through the leader' },
  backfill: { run: backfillCommand, summary: "publish an entry's slots in a past range that never ran, each once, through the leader" },
  pause: { run: pauseCommand, summary: 'pause an entry (kept in Redis, honoured within a second)' },
  resume: { run: resumeCommand, summary: 'resume a paused entry' },
  entries: { run: entriesCommand, summary: 'list, get, set, delete, import and export the runtime entries kept in Redis' },
  import: {
    run: importCommand,
    summary: "write a config from a crontab file, a Celery app's beat_schedule, RedBeat's or django-celery-beat's entries",
  },
};

const NAME_WIDTH = Math.max(...Object.keys(COMMANDS).map((name) => name.length)) + 2;

export const MAIN_HELP = `Usage: beat <command> [options]

tsbeat: Celery's periodic task scheduler (celery beat) as a standalone service.

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(NAME_WIDTH)}${c.summary}`)
  .join('\n')}

Options:
  -V, -v, --version   print the version
  -h, --help          show this help

Run 'beat <command> --help' (or 'beat help <command>') for a command's options.
`;

const BAD_INPUT_CODES = new Set<string>([
  ErrorCode.Usage,
  ErrorCode.ConfigInvalid,
  ErrorCode.ConfigNotFound,
  ErrorCode.ConfigLoad,
  ErrorCode.UnknownEntry,
  ErrorCode.ImportInput,
  ErrorCode.EntryInvalid,
  ErrorCode.EntryIsStatic,
  ErrorCode.BrokerUrl,
  // The URL or the server's settings must change (see src/redis/server-errors.ts).
  ErrorCode.RedisDbOutOfRange,
  ErrorCode.RedisAuth,
  ErrorCode.RedisNoPerm,
  ErrorCode.RedisReadOnly,
  ErrorCode.BrokerRefused,
  ErrorCode.DjangoDatabase,
]);

export async function main(argv: string[], io: Io = processIo): Promise<ExitCode> {
  const [first, ...afterFirst] = argv;
  // `beat help run` is `beat run --help`.
  const asHelp = first === 'help' && afterFirst.length > 0;
  const [name, ...rest] = asHelp ? [afterFirst[0] as string, '--help', ...afterFirst.slice(1)] : argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    io.out(MAIN_HELP);
    return name === undefined ? ExitCode.BadInput : ExitCode.Ok;
  }
  if (name === '-V' || name === '-v' || name === '--version') {
    io.out(VERSION);
    return ExitCode.Ok;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    io.err(`beat: unknown command ${shown(name)}. Commands: ${Object.keys(COMMANDS).join(', ')}. See 'beat --help'.`);
    return ExitCode.BadInput;
  }
  // What people read is escaped; data for programs (messages of a dry run, a written config, an
  // export) is written as it is. Errors are always for people.
  const data = name === 'run' || name === 'import' || (name === 'entries' && rest[0] === 'export');
  const out = terminalIo(io, !data);
  try {
    return await command.run(rest, out);
  } catch (error) {
    if (error instanceof BeatError) {
      out.err(clipQuoted(error.message));
      return BAD_INPUT_CODES.has(error.code) ? ExitCode.BadInput : ExitCode.Failure;
    }
    // Not a failure we anticipated: say so plainly; the stack only on request.
    out.err(`beat ${name}: unexpected error: ${clipQuoted(errorMessage(error))}`);
    if (out.env.BEAT_DEBUG && error instanceof Error && error.stack) out.err(error.stack);
    else out.err('(set BEAT_DEBUG=1 to see the stack trace, and please report it)');
    return ExitCode.Failure;
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
  // Every command has finished its work (a stopped `run` has saved state, released the lock and
  // closed its connections) when main returns. Whatever still holds the event loop after a grace
  // period (a socket a library failed to close) must not keep the process alive: an orchestrator
  // would wait its whole grace period and then SIGKILL.
  setTimeout(() => process.exit(code), DEFAULTS.exitGraceMs).unref();
}
