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
import { checkSpec } from './commands/check.js';
import { ExitCode, processIo, terminalIo } from './commands/io.js';
import type { Io } from './commands/io.js';
import { nextSpec } from './commands/next.js';
import { importSpec } from './commands/import.js';
import { entriesSpec } from './commands/entries.js';
import { runSpec } from './commands/run.js';
import { pauseCommandSpec, resumeCommandSpec, statusSpec, triggerSpec } from './commands/control.js';
import { historySpec } from './commands/history.js';
import { backfillSpec } from './commands/backfill.js';
import { auditSpec } from './commands/audit.js';
import { runCommand } from './commands/command-spec.js';
import type { Command } from './commands/command-spec.js';
import { closest } from './config/keys.js';
import { BeatError, ERROR_ANSWERS, clipQuoted, errorMessage, shown } from './base/errors.js';
import { DEFAULTS } from './base/defaults.js';
import { VERSION } from './base/version.js';

const COMMANDS: readonly Command[] = [
  runSpec,
  checkSpec,
  nextSpec,
  statusSpec,
  historySpec,
  auditSpec,
  triggerSpec,
  backfillSpec,
  pauseCommandSpec,
  resumeCommandSpec,
  entriesSpec,
  importSpec,
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
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
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
    return await runCommand(command, rest, out);
  } catch (error) {
    if (error instanceof BeatError) {
      out.err(clipQuoted(error.message));
      return ERROR_ANSWERS[error.code].exit;
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
