/**
 * The logger: pino JSON lines on stdout, one per decision, each with a stable `event` field from
 * `EVENTS`. Secrets never reach it: URLs are masked (maskUrl in broker/redis-url.ts) before they are logged.
 */
import { pino } from 'pino';
import type { Logger } from 'pino';
import { PinoPretty } from 'pino-pretty';
import { ENV } from './defaults.js';

export type { Logger } from 'pino';

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
      ? PinoPretty({ destination: fd, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', messageKey: 'msg', singleLine: true, sync: true })
      : pino.destination({ dest: fd, sync: false }));
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

/** A logger that drops everything, for library use and unit tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
