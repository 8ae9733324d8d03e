/**
 * The command line's commands and their dispatch: argv → command → exit code (0 ok, 1 runtime
 * failure, 2 bad input). Every command writes through an injected Io and returns its code; the
 * entry point (src/cli.ts) loads this module, runs `main` and sets the process's exit code.
 */
import { checkSpec } from './check.js';
import { ExitCode, processIo, terminalIo } from './io.js';
import type { Io } from './io.js';
import { nextSpec } from './next.js';
import { importSpec } from './import.js';
import { entriesSpec } from './entries.js';
import { runSpec } from './run.js';
import { pauseCommandSpec, resumeCommandSpec, statusSpec, triggerSpec } from './control.js';
import { historySpec } from './history.js';
import { backfillSpec } from './backfill.js';
import { auditSpec } from './audit.js';
import { runCommand } from './command-spec.js';
import type { Command } from './command-spec.js';
import { closest } from '../config/keys.js';
import { BeatError, ERROR_ANSWERS, clipQuoted, errorMessage, shown } from '../base/errors.js';
import { VERSION } from '../base/version.js';
import { redactText } from '../base/redact.js';

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
