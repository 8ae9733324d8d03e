/**
 * SIGTERM and SIGINT for `beat run`, from the first moment its code runs. Until a listener is
 * installed, Node's own handling of either ends the process by the signal (code 143 or 130, nothing
 * released). An orchestrator sends SIGTERM at any moment, a rollout right after a start.
 * So the entry point (src/cli.ts) holds them before it loads the rest of the command line, and
 * `beat run` takes over what was held: a signal that came while it loaded stops it before it starts.
 * This module imports nothing: the entry point loads it before anything else.
 */

/** The stop signals of one `beat run`. */
export interface StopSignals {
  /** Resolves with the first SIGTERM or SIGINT. */
  readonly first: Promise<NodeJS.Signals>;
  /** The first one, once it came. */
  received(): NodeJS.Signals | undefined;
  /**
   * The first one, counting one sent already that the event loop has not read yet (it reads them
   * as it polls; a synchronous stretch of work, a config's parsing, delays that): after one poll.
   */
  heard(): Promise<NodeJS.Signals | undefined>;
  /** Stops listening: Node's own handling again (a signal then ends the process by it). */
  release(): void;
}

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

let held: StopSignals | undefined;

/** Listens from now on; the first signal also ends the listening, so that a second one ends the process (a stop that hangs). */
function listen(): StopSignals {
  let first: NodeJS.Signals | undefined;
  let resolveFirst: (signal: NodeJS.Signals) => void = () => undefined;
  const promise = new Promise<NodeJS.Signals>((resolve) => {
    resolveFirst = resolve;
  });
  const onSignal = (signal: NodeJS.Signals): void => {
    release();
    first = signal;
    resolveFirst(signal);
  };
  const release = (): void => {
    for (const name of STOP_SIGNALS) process.off(name, onSignal);
  };
  for (const name of STOP_SIGNALS) process.on(name, onSignal);
  const heard = async (): Promise<NodeJS.Signals | undefined> => {
    // An immediate set during the loop's poll runs right after it, in the same turn; the one it
    // sets runs after the next poll.
    for (let turn = 0; turn < 2; turn += 1) await new Promise<void>((resolve) => setImmediate(resolve));
    return first;
  };
  return { first: promise, received: () => first, heard, release };
}

/** Starts listening for `beat run` to take over later (the entry point, before it loads the commands). */
export function holdStopSignals(): void {
  held ??= listen();
}

/** What holdStopSignals held since the process started, else listening from now on. */
export function takeStopSignals(): StopSignals {
  const taken = held ?? listen();
  held = undefined;
  return taken;
}
