/**
 * Honest answers to failures: a bad request is a 4xx that names the place and the limit; Redis (or
 * the broker) out of reach is 503 with Retry-After, the one answer a client should retry; anything
 * else is tsbeat's own failure, 500 with an error id that is also in the log line (beat.http.error),
 * so that an operator can find the cause and a client does not retry for ever.
 */
import { maskTarget, redactText } from '../base/redact.js';
import { randomBytes } from 'node:crypto';
import { BeatError, ConfigError, ERROR_ANSWERS, ErrorCode, errorMessage } from '../base/errors.js';
import type { ConfigProblem } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import { unreachableReason } from '../base/outages.js';
import type { Logger } from '../base/log.js';

/** The Retry-After (seconds) of a 503: Redis or the broker is unreachable for now. */
const HTTP_RETRY_AFTER_SECONDS = 2;

/** A request refused, with the status of its code (ERROR_ANSWERS) and the headers its answer carries. */
export class ApiError extends BeatError {
  constructor(
    code: ErrorCode,
    message: string,
    /** Headers the answer carries (Allow for a 405). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(code, message);
    this.name = 'ApiError';
  }

  get status(): number {
    return ERROR_ANSWERS[this.code].http;
  }
}

/** How a failure is answered: status, JSON body, headers. */
export interface FailureAnswer {
  readonly status: number;
  readonly body: { error: string; code: string; problems: { path: string; message: string }[]; errorId?: string };
  readonly headers: Record<string, string>;
}

/** The HTTP status of a BeatError the handlers report (ERROR_ANSWERS). */
export function statusOf(error: BeatError): number {
  return ERROR_ANSWERS[error.code].http;
}

/**
 * The answer to `error`, logged when it is tsbeat's own (500, with the id the answer carries) or an
 * outage (503); a refusal of the request (4xx) is the client's business and is not logged here.
 */
export function failureAnswer(error: unknown, req: { readonly url?: string; readonly method?: string }, logger: Logger): FailureAnswer {
  const retry = { 'retry-after': String(HTTP_RETRY_AFTER_SECONDS) };
  if (error instanceof ConfigError) {
    const problems = error.problems.map(({ path, message }: ConfigProblem) => ({ path, message: redactText(message) }));
    const status = statusOf(error);
    const text = `${problems.length} problem${problems.length === 1 ? '' : 's'} in the entries sent`;
    return { status, body: { error: text, code: error.code, problems }, headers: {} };
  }
  // A refusal made on purpose (ApiError) is answered in its own words, a 500 too (a server's setting
  // it cannot read, named with its fix); any other BeatError of 500 is tsbeat's own failure, below.
  if (error instanceof BeatError && (statusOf(error) !== 500 || error instanceof ApiError)) {
    const status = statusOf(error);
    if (status === 503)
      logger.warn({ event: EVENTS.httpError, path: maskTarget(req.url), status, err: error }, `HTTP ${status}: ${error.message}`);
    else if (status >= 500)
      logger.error({ event: EVENTS.httpError, path: maskTarget(req.url), status, err: error }, `HTTP ${status}: ${error.message}`);
    const headers = { ...(error instanceof ApiError ? error.headers : {}), ...(status === 503 ? retry : {}) };
    return { status, body: { error: redactText(error.message), code: error.code, problems: [] }, headers };
  }
  if (unreachableReason(error) !== undefined) {
    logger.warn({ event: EVENTS.httpError, path: maskTarget(req.url), status: 503, err: error }, `HTTP 503: ${errorMessage(error)}`);
    return {
      status: 503,
      body: {
        error: `Redis or the broker is unreachable (${redactText(errorMessage(error))}); try again`,
        code: ErrorCode.RedisUnavailable,
        problems: [],
      },
      headers: retry,
    };
  }
  const errorId = randomBytes(6).toString('hex');
  logger.error(
    { event: EVENTS.httpError, path: maskTarget(req.url), method: req.method, errorId, err: error },
    `HTTP 500 (error ${errorId}): ${errorMessage(error)}`,
  );
  return {
    status: 500,
    body: {
      error: `internal error ${errorId}: tsbeat failed to answer; the log has the details (beat.http.error, errorId ${errorId})`,
      code: ErrorCode.Internal,
      problems: [],
      errorId,
    },
    headers: {},
  };
}

/**
 * Where a JSON text nests deeper than `maxDepth`, found by one pass over the text before it is
 * parsed (a 5,000-deep body is refused, never parsed or walked): its path (`$.a[0]`), or undefined.
 * A scan that stops after every `sliceChars` characters (a yield): see jsonKeyScan.
 */
export function* jsonDepthScan(text: string, maxDepth: number, sliceChars: number): Generator<void, string | undefined> {
  let pauseAt = sliceChars;
  // One frame per open container: its kind and the key or index it is at.
  const frames: { array: boolean; at: string | number }[] = [];
  let inString = false;
  let stringStart = 0;
  let lastString = '';
  for (let i = 0; i < text.length; i += 1) {
    if (i >= pauseAt) {
      yield;
      pauseAt = i + sliceChars;
    }
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i += 1;
      else if (c === 0x22) {
        inString = false;
        lastString = text.slice(stringStart, Math.min(i, stringStart + 64));
      }
      continue;
    }
    const top = frames[frames.length - 1];
    if (c === 0x22) {
      inString = true;
      stringStart = i + 1;
    } else if (c === 0x3a && top !== undefined && !top.array) top.at = lastString;
    else if (c === 0x2c && top !== undefined && top.array) top.at = (top.at as number) + 1;
    else if (c === 0x5b || c === 0x7b) {
      if (frames.length >= maxDepth) {
        return `$${frames.map((f) => (f.array ? `[${f.at}]` : `.${JSON.stringify(f.at)}`)).join('')}`;
      }
      frames.push({ array: c === 0x5b, at: c === 0x5b ? 0 : '' });
    } else if (c === 0x5d || c === 0x7d) frames.pop();
  }
  return undefined;
}
