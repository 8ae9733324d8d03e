/**
 * The logger: pino JSON lines on stdout, one per decision, each with a stable `event` field from
 * `EVENTS`. Secrets never reach it: URLs and messages that may hold one go through src/base/redact.ts (maskUrl, redactText) before they are logged.
 */
import { pino } from 'pino';
import type { Logger } from 'pino';
import type * as PinoPrettyModule from 'pino-pretty';
import { ENV } from './env.js';
import { loadOnFirstUse } from './load-on-first-use.js';
import { redactText } from './redact.js';
import { repeatsOutage } from './outages.js';

export type { Logger } from 'pino';

/** Only a terminal needs it; containers and files get JSON (see load-on-first-use.ts). */
const pinoPretty = loadOnFirstUse<typeof PinoPrettyModule>('pino-pretty');

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What the logger prints of an error: its message, code and cause chain, never its stack. */
export interface LoggedError {
  readonly message: string;
  /** The error's class when it says more than `Error` (ReplyError, AggregateError, …). */
  readonly type?: string;
  /** tsbeat's ErrorCode, or a system code such as ECONNREFUSED, WRONGPASS's Redis reply code. */
  readonly code?: string | number;
  readonly cause?: LoggedError;
}

/** How many causes deep an error is printed: enough for a wrapper of a wrapper of the real failure. */
const CAUSE_DEPTH = 4;

/**
 * The `err` serializer. pino's own one prints plain objects as `"type": "Object"` with an empty
 * stack, and errors with a stack an operator cannot act on; this keeps what names the failure.
 * Takes an Error, anything with a `message`, or a string.
 */
export function serializeError(value: unknown, depth = 0): LoggedError {
  if (value === null || typeof value !== 'object') return { message: String(value) };
  const error = value as { message?: unknown; name?: unknown; code?: unknown; cause?: unknown; errors?: unknown };
  let message = typeof error.message === 'string' ? error.message : String(value);
  // Node reports a refused connection to a host with several addresses as an AggregateError with
  // an empty message: its parts say what happened.
  if (message === '' && Array.isArray(error.errors)) message = error.errors.map((e) => serializeError(e, CAUSE_DEPTH).message).join('; ');
  const type = value instanceof Error && typeof error.name === 'string' && error.name !== 'Error' ? error.name : undefined;
  const code = typeof error.code === 'string' || typeof error.code === 'number' ? error.code : undefined;
  const cause = error.cause !== undefined && depth < CAUSE_DEPTH ? serializeError(error.cause, depth + 1) : undefined;
  return {
    // Errors of other libraries quote URLs whole (fetch, undici, the AWS SDK): masked here, for every line.
    message: redactText(message),
    ...(type === undefined ? {} : { type }),
    ...(code === undefined ? {} : { code }),
    ...(cause === undefined ? {} : { cause }),
  };
}

/** An error on one line, for people: "message [CODE] ← cause [CODE]". */
export function errorText(error: LoggedError): string {
  const own = `${error.message}${error.code === undefined || error.message.includes(String(error.code)) ? '' : ` [${error.code}]`}`;
  return error.cause === undefined ? own : `${own} ← ${errorText(error.cause)}`;
}

/**
 * Fields every line of one process carries (`instance` and `deployment` for `beat run`). JSON lines
 * repeat them, since each line must stand alone in a log store; terminal lines leave them out (the
 * start line says them once).
 */
export type LogBase = Readonly<Record<string, string>>;

const PRETTY_HIDDEN = ['pid', 'hostname', 'instance', 'deployment', 'err'];

/**
 * JSON lines for machines; when the output is a terminal, the same lines made readable for people
 * (pino-pretty), unless BEAT_LOG_FORMAT=json asks for JSON anyway.
 */
export function createLogger(
  options: {
    level?: LogLevel;
    fd?: 1 | 2;
    destination?: pino.DestinationStream;
    base?: LogBase;
    /** Called once when the reader of `fd` has gone (EPIPE: `beat run | head -1`); pino then drops every line. */
    onClosed?: () => void;
  } = {},
): Logger {
  const fd = options.fd ?? 1;
  const tty = fd === 1 ? process.stdout.isTTY : process.stderr.isTTY;
  const destination =
    options.destination ?? (tty && process.env[ENV.logFormat] !== 'json' ? prettyStream(fd, true) : jsonLines(fd, options.onClosed));
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: serializeError },
      // The message of every line masked (its fields are masked where they are made): a message
      // built from an error or a URL is the easiest place for a secret to slip through.
      hooks: {
        logMethod(args, method, level) {
          for (let i = 0; i < args.length; i += 1) if (typeof args[i] === 'string') args[i] = redactText(args[i] as string);
          // A warning that only repeats an open outage (outages.ts) is a debug line.
          if (repeatsOutage(level, args[0])) {
            this.debug(...args);
            return;
          }
          method.apply(this, args);
        },
      },
    },
    destination,
  );
}

/** JSON lines to `fd`, batched per turn of the event loop; `onClosed` hears the first EPIPE. */
function jsonLines(fd: 1 | 2, onClosed: (() => void) | undefined): LineBatcher {
  const stream = pino.destination({ dest: fd, sync: false });
  if (onClosed !== undefined) {
    const onError = (error: { code?: unknown }): void => {
      if (error.code !== 'EPIPE') return;
      stream.off('error', onError);
      onClosed();
    };
    stream.on('error', onError);
  }
  return new LineBatcher(stream);
}

/** Terminal lines: one per event, the message with its error, then the other fields in grey. */
export function prettyStream(destination: number | NodeJS.WritableStream, colorize: boolean): pino.DestinationStream {
  return pinoPretty().PinoPretty({
    destination,
    colorize,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: PRETTY_HIDDEN.join(','),
    messageKey: 'msg',
    messageFormat: prettyMessage,
    singleLine: true,
    sync: true,
  });
}

/** A terminal line's message, followed by its error (already serialized) when it has one. */
function prettyMessage(log: Record<string, unknown>, messageKey: string): string {
  const message = String(log[messageKey] ?? '');
  const err = log['err'];
  return err === undefined ? message : `${message}: ${errorText(serializeError(err))}`;
}

/** Batchers with lines not yet handed to their stream. */
const holding = new Set<LineBatcher>();
let flushOnExitArmed = false;

/**
 * Hands the log lines of one turn of the event loop to the file stream as one string. pino's
 * stream (sonic-boom) measures the byte length of everything it still holds on every write, which
 * flattens a growing string each time: ~10 KB of garbage per line, ~100 MB for the 10,000 lines
 * recorded after a burst of 10,000 runs. A line written alone still goes out on the next turn.
 */
export class LineBatcher implements pino.DestinationStream {
  private lines: string[] = [];

  constructor(private readonly out: LineSink) {}

  write(line: string): void {
    if (this.lines.push(line) > 1) return;
    setImmediate(this.drain);
    holding.add(this);
    if (!flushOnExitArmed) {
      flushOnExitArmed = true;
      // A process that exits at once (process.exit) must not lose the lines of its last turn.
      process.once('exit', () => {
        for (const batcher of holding) {
          try {
            batcher.flushSync();
          } catch {
            // The stream is already closed: nothing more can be written to it.
          }
        }
      });
    }
  }

  /** pino's logger.flush(): pending lines to the stream, then the stream's own flush. */
  flush(callback?: (error?: Error) => void): void {
    this.drain();
    if (this.out.flush !== undefined) this.out.flush(callback ?? (() => undefined));
    else callback?.();
  }

  flushSync(): void {
    this.drain();
    this.out.flushSync?.();
  }

  private readonly drain = (): void => {
    holding.delete(this);
    if (this.lines.length === 0) return;
    const text = this.lines.length === 1 ? (this.lines[0] as string) : this.lines.join('');
    this.lines = [];
    this.out.write(text);
  };
}

/** What LineBatcher writes to: a sonic-boom stream, or anything with its write and flushes. */
export interface LineSink {
  write(text: string): unknown;
  flush?(callback: (error?: Error) => void): void;
  flushSync?(): void;
}

/** A logger that drops everything, for library use and unit tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
