#!/usr/bin/env node
/**
 * `beat`: the command line's entry point, and the only module that calls process.exit. The
 * commands (src/commands/main.ts) return an exit code (0 ok, 1 runtime failure, 2 bad input).
 *
 * This module loads nothing but the stop signals' holder before it holds them: the commands are
 * imported afterwards, because loading them is most of a start (the bundle's chunk of them is
 * parsed and run in 0.1 to 0.4 s), and a SIGTERM in that time would end `beat run` by the signal.
 */
import { realpathSync, writeSync } from 'node:fs';
import { enableCompileCache } from 'node:module';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { holdStopSignals } from './commands/stop-signals.js';
import { onOutputClosed } from './commands/output-closed.js';

/**
 * Keeps the V8 code Node compiles the chunks into, so that the next start of the same build reads
 * it instead of compiling them again (Node's public compile cache, as tsc, ESLint and Prettier use
 * it): `beat check` and `beat next` start ~10 % sooner (bench/cli-start.mjs). The cache is the
 * user's own (XDG's cache folder; a relative XDG_CACHE_HOME is ignored, as the XDG spec says), not
 * the shared temporary folder Node defaults to, where another user of the machine could leave code
 * for this one to run. A folder that cannot be written (a
 * read-only container) only means no cache: Node reports it and compiles as before;
 * NODE_DISABLE_COMPILE_CACHE=1 turns it off, and NODE_COMPILE_CACHE chooses the folder.
 */
function keepCompiledCode(): void {
  const xdg = process.env.XDG_CACHE_HOME;
  let cacheHome = xdg !== undefined && isAbsolute(xdg) ? xdg : undefined;
  try {
    cacheHome ??= join(homedir(), '.cache');
  } catch {
    return; // a user without a home folder: no cache
  }
  enableCompileCache(join(cacheHome, 'tsbeat', 'compiled'));
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
  // `run` only (main's dispatch reads the command's name from the same place): other commands end
  // by the signal as before, and `beat run` stops cleanly (exit 0) whenever SIGTERM comes.
  const running = process.argv[2] === 'run';
  if (running) holdStopSignals();
  // A reader that went away (`beat status | head -1`) ends the command quietly with 0; `beat run`
  // stops as on SIGTERM (state saved, lock released), which the signals held above turn into a
  // clean stop.
  onOutputClosed({
    closed: () => (running ? process.kill(process.pid, 'SIGTERM') : process.exit(0)),
    failed: (stream, error) => {
      try {
        writeSync(2, `beat: cannot write to ${stream}: ${error.message}\n`);
      } catch {
        // stderr is what failed: nothing is left to say it on.
      }
      process.exit(1);
    },
  });
  keepCompiledCode();
  const [{ main }, { DEFAULTS }] = await Promise.all([import('./commands/main.js'), import('./base/defaults.js')]);
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
  // Every command has finished its work (a stopped `run` has saved state, released the lock and
  // closed its connections) when main returns. Whatever still holds the event loop after a grace
  // period (a socket a library failed to close) must not keep the process alive: an orchestrator
  // would wait its whole grace period and then SIGKILL.
  setTimeout(() => process.exit(code), DEFAULTS.exitGraceMs).unref();
}
