import { DEFAULTS } from '../base/defaults.js';
import { ENV } from '../base/env.js';
import { terminalLines } from '../base/terminal-text.js';

/** Where a command writes: results to `out`, problems to `err`. Injected so tests can capture them. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** The clock of the CLI: commands take "now" from here, never from Date.now() deep inside. */
  now(): number;
  /** The width of the terminal `out` writes to; absent when it is not a terminal. */
  readonly columns?: number;
  /**
   * A progress line that replaces the previous one, on stderr and only when it is a terminal
   * (absent: none is shown); `done` ends the line.
   */
  progress?(text: string, done?: boolean): void;
  /**
   * A line of `out` that must not be missed (the deployment-wide stop): red on a terminal that takes
   * colour (no NO_COLOR), plain otherwise. Absent: written as `out` writes.
   */
  alert?(text: string): void;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  env: process.env,
  cwd: process.cwd(),
  now: () => Date.now(),
  // Read when asked: the terminal can be resized between two commands of one process (tests).
  get columns() {
    return process.stdout.isTTY ? process.stdout.columns : undefined;
  },
  alert: (text) => {
    const colour = process.stdout.isTTY && process.env['NO_COLOR'] === undefined;
    process.stdout.write(colour ? `\x1b[1;31m${text}\x1b[0m\n` : `${text}\n`);
  },
  progress: (text, done) => {
    if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${text}${done === true ? '\n' : ''}`);
  },
};

/**
 * The Io of a command whose output is read by people: every line written has its control
 * characters escaped (terminal-text.ts). Data written for a program (`run`'s messages, `import`'s
 * config, `entries export`) does not go through it.
 */
export function terminalIo(io: Io, escapeOut: boolean): Io {
  return {
    out: escapeOut ? (text) => io.out(terminalLines(text)) : (text) => io.out(text),
    err: (text) => io.err(terminalLines(text)),
    env: io.env,
    cwd: io.cwd,
    now: () => io.now(),
    ...(io.columns === undefined ? {} : { columns: io.columns }),
    // Escaped first: only the colour's own codes reach the terminal.
    ...(io.alert === undefined ? {} : { alert: (text: string) => io.alert?.(terminalLines(text)) }),
    ...(io.progress === undefined ? {} : { progress: (text: string, done?: boolean) => io.progress?.(terminalLines(text), done) }),
  };
}

/**
 * The columns every line a command prints for people fits in: $COLUMNS (as a shell exports it, or
 * as given to fit a pager or a CI log), else the terminal's width, else DEFAULTS.terminalColumns
 * (output to a pipe or a file). --wide and --json are the full values, whatever the width.
 */
export function terminalColumns(io: Io): number {
  const given = io.env[ENV.columns];
  const columns = given !== undefined && /^[1-9]\d{0,4}$/.test(given.trim()) ? Number(given.trim()) : io.columns;
  return columns !== undefined && columns > 0 ? columns : DEFAULTS.terminalColumns;
}

/**
 * Exit codes: 0 success, 1 a runtime failure, 2 bad input (arguments or config), 3 `beat plan`
 * found changes (terraform's -detailed-exitcode says 2, which is ours for bad input).
 */
export const ExitCode = { Ok: 0, Failure: 1, BadInput: 2, Changes: 3 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
