/**
 * The command line's commands and their dispatch: argv → command → exit code (0 ok, 1 runtime
 * failure, 2 bad input). Every command writes through an injected Io and returns its code; the
 * entry point (src/cli.ts) loads this module, runs `main` and sets the process's exit code.
 */
import { ExitCode, processIo, terminalIo } from './io.js';
import type { Io } from './io.js';
import { runCommand } from './command-spec.js';
import type { ListedCommand } from './command-spec.js';
import { closest } from '../base/did-you-mean.js';
import { BeatError, ERROR_ANSWERS, clipQuoted, errorMessage, shown } from '../base/errors.js';
import { VERSION } from '../base/version.js';
import { redactText } from '../base/redact.js';

/**
 * `beat`'s commands, in the order `beat --help` lists them. Each module is imported when its
 * command runs (a chunk of its own in the bundle): `beat check` loads the config's reader and the
 * schedules, not Redis, the brokers or the HTTP server (bench/cli-start.mjs).
 */
const COMMANDS: readonly ListedCommand[] = [
  {
    name: 'run',
    summary: 'run the scheduler (leader or standby); --dry-run to try a schedule without Redis',
    load: async () => (await import('./run.js')).runSpec,
  },
  {
    name: 'check',
    summary: 'validate the config and list its entries with their next fire',
    load: async () => (await import('./check.js')).checkSpec,
  },
  { name: 'next', summary: 'print the next fire instants of each entry', load: async () => (await import('./next.js')).nextSpec },
  {
    name: 'status',
    summary: 'show the leader and every entry (last run, next run, paused, last outcome), from Redis',
    load: async () => (await import('./control.js')).statusSpec,
  },
  {
    name: 'history',
    summary:
      "show an entry's last runs, a slot's retries under it, and their outcomes (from a resultBackend or task events, read by default)",
    load: async () => (await import('./history.js')).historySpec,
  },
  {
    name: 'audit',
    summary: 'show who changed which entry, when, what and why (the audit trail)',
    load: async () => (await import('./audit.js')).auditSpec,
  },
  {
    name: 'trigger',
    summary: 'publish one run of an entry now, through the leader',
    load: async () => (await import('./control.js')).triggerSpec,
  },
  {
    name: 'backfill',
    summary: "publish an entry's slots in a past range that never ran, each once, through the leader",
    load: async () => (await import('./backfill.js')).backfillSpec,
  },
  {
    name: 'pause',
    summary: 'pause entries, or the whole deployment with --all (kept in Redis, honoured within a second)',
    load: async () => (await import('./control.js')).pauseCommandSpec,
  },
  {
    name: 'resume',
    summary: 'resume paused entries, or with --all the stopped deployment',
    load: async () => (await import('./control.js')).resumeCommandSpec,
  },
  {
    name: 'dead-letter',
    summary: 'list, replay or discard the slots that failed for good (the dead-letter list)',
    load: async () => (await import('./dead-letter.js')).deadLetterSpec,
  },
  {
    name: 'entries',
    summary: 'list, get, set, delete, import and export the runtime entries kept in Redis',
    load: async () => (await import('./entries.js')).entriesSpec,
  },
  {
    name: 'plan',
    summary: "show what a config, or one owner's runtime entries, would change in the deployment (exit 0 none, 3 changes)",
    load: async () => (await import('./plan.js')).planSpec,
  },
  {
    name: 'apply',
    summary: "make one owner's runtime entries match a file, in one atomic write",
    load: async () => (await import('./plan.js')).applySpec,
  },
  {
    name: 'import',
    summary: "write a config from a crontab file, a Celery app's beat_schedule, RedBeat's or django-celery-beat's entries",
    load: async () => (await import('./import.js')).importSpec,
  },
];
const NAMES = COMMANDS.map((c) => c.name);

const NAME_WIDTH = Math.max(...NAMES.map((name) => name.length)) + 2;

export const MAIN_HELP = `Usage: beat <command> [options]

tsbeat: Celery's periodic task scheduler (celery beat) as a standalone service.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(NAME_WIDTH)}${c.summary}`).join('\n')}

Options:
  -V, -v, --version   print the version
  -h, --help          show this help

Run 'beat <command> --help' (or 'beat help <command>') for a command's options.
`;

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
  const listed = COMMANDS.find((c) => c.name === name);
  if (listed === undefined) {
    const hint = closest(name, NAMES);
    const guess = hint === undefined ? '.' : `; did you mean "${hint}"?`;
    io.err(`beat: unknown command ${shown(name)}${guess} Commands: ${NAMES.join(', ')}. See 'beat --help'.`);
    return ExitCode.BadInput;
  }
  // What people read is escaped; data for programs (messages of a dry run, a written config, an
  // export) is written as it is. Errors are always for people.
  const data = name === 'run' || name === 'import' || (name === 'entries' && rest[0] === 'export');
  const out = terminalIo(io, !data);
  try {
    return await runCommand(await listed.load(), rest, out);
  } catch (error) {
    if (error instanceof BeatError) {
      out.err(clipQuoted(redactText(error.message)));
      return ERROR_ANSWERS[error.code].exit;
    }
    // Not a failure we anticipated: say so plainly; the stack only on request.
    out.err(`beat ${name}: unexpected error: ${clipQuoted(redactText(errorMessage(error)))}`);
    if (out.env.BEAT_DEBUG && error instanceof Error && error.stack) out.err(error.stack);
    else out.err('(set BEAT_DEBUG=1 to see the stack trace, and please report it)');
    return ExitCode.Failure;
  }
}
