/**
 * The logger: pino JSON lines on stdout, one per decision, each with a stable `event` field from
 * `EVENTS`. Secrets never reach it: URLs are masked (maskUrl in broker/redis-url.ts) before they are logged.
 */
import { pino } from 'pino';
import type { Logger } from 'pino';
import type * as PinoPrettyModule from 'pino-pretty';
import { ENV } from './defaults.js';
import { loadOnFirstUse } from './load-on-first-use.js';

export type { Logger } from 'pino';

/** Only a terminal needs it; containers and files get JSON (see load-on-first-use.ts). */
const pinoPretty = loadOnFirstUse<typeof PinoPrettyModule>('pino-pretty');

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * JSON lines for machines; when the output is a terminal, the same lines made readable for people
 * (pino-pretty), unless BEAT_LOG_FORMAT=json asks for JSON anyway.
 */
export function createLogger(options: { level?: LogLevel; fd?: 1 | 2; destination?: pino.DestinationStream } = {}): Logger {
  const fd = options.fd ?? 1;
  const tty = fd === 1 ? process.stdout.isTTY : process.stderr.isTTY;
  const destination =
    options.destination ??
    (tty && process.env[ENV.logFormat] !== 'json'
      ? pinoPretty().PinoPretty({ destination: fd, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', messageKey: 'msg', singleLine: true, sync: true })
      : new LineBatcher(pino.destination({ dest: fd, sync: false })));
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
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
