/**
 * What the command line does when the reader of its output goes away (`beat status | head -1`,
 * `beat next --count 1000 | less` quit early): the write fails with EPIPE, which Node reports as an
 * 'error' event on process.stdout (or stderr) that, unheard, ended the command with a stack trace
 * and exit 1. A closed reader asked for no more output, so the command ends quietly with 0, as
 * `head` expects of a command in a pipe. Any other failure to write (EIO, ENOSPC) is a failure:
 * one line, exit 1.
 * This module imports nothing: the entry point (src/cli.ts) installs it before it loads the commands.
 */

/** How the process ends: `closed` on EPIPE, `failed` on any other error of stdout or stderr. */
export interface OutputClosedActions {
  closed(): void;
  failed(stream: 'stdout' | 'stderr', error: Error): void;
}

/** Listens for write errors on `streams` (default: the process's stdout and stderr); only the first one acts. */
export function onOutputClosed(
  actions: OutputClosedActions,
  streams: { stdout: NodeJS.EventEmitter; stderr: NodeJS.EventEmitter } = process,
): void {
  let acted = false;
  for (const name of ['stdout', 'stderr'] as const) {
    streams[name].on('error', (error: Error) => {
      // A stream keeps failing each write after the first (a `beat run` still logging): once is enough.
      if (acted) return;
      acted = true;
      if ((error as { code?: unknown }).code === 'EPIPE') actions.closed();
      else actions.failed(name, error);
    });
  }
}
