/**
 * A request's JSON body, read with a size limit: refused with 413 before it is parsed when larger
 * (by its Content-Length, or as it streams in), 415 when it is not declared JSON, 400 when it does
 * not parse, nests too deep, or holds a key twice in one object or a `__proto__` (json-keys.ts).
 *
 * Large bodies are read and acted on LARGE_BODIES_AT_ONCE at a time (issue 66): a request past
 * that is refused at once, before its body is read, with 429 API_BUSY and Retry-After. Each large
 * body costs the scheduler's loop tens of milliseconds of scanning and parsing, and a write of its
 * entries after: thirty 3.7 MB bulk writes at once queued their parses in one turn of the loop and
 * held it for seconds (the probe's slots late, /healthz after 3 s). A body's scans (its depth, its
 * keys) turn the loop over every BODY_SCAN_SLICE_CHARS characters, and between them and the parse.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { drainSliced, yieldToLoop } from '../base/chunks.js';
import { ErrorCode } from '../base/errors.js';
import { ApiError, jsonDepthScan } from './failures.js';
import { jsonKeyMessage, jsonKeyScan } from '../base/json-keys.js';

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** A body of this many bytes or more (or of no declared length) is large. */
const LARGE_BODY_BYTES = 256 * 1024;
/** Large bodies read and acted on at once, on this process: one client's bulk writes come one after another anyway. */
const LARGE_BODIES_AT_ONCE = 1;
/** What a refused client is told to wait, s: a large write takes some hundreds of milliseconds. */
const BUSY_RETRY_AFTER_SECONDS = 1;
/**
 * Characters of a request body's text scanned (its depth, its keys) between two turns of the
 * event loop: about 10 ms on an idle core. A 3.7 MB body's scans held the loop 80-130 ms each in
 * one piece (issue 66), and a probe's slot or /healthz that fell in one waited for it.
 */
const BODY_SCAN_SLICE_CHARS = 256 * 1024;
/** Large bodies being read or acted on now: each counted until its answer is sent or its connection closes. */
let largeBodies = 0;

/**
 * Holds a place for `req`'s body when it may be large (by its Content-Length, or none declared
 * while `maxBytes` allows a large one) until `res` closes; throws API_BUSY when every place is held.
 */
function admitBody(req: IncomingMessage, res: ServerResponse, maxBytes: number): void {
  const declared = Number(req.headers['content-length']);
  if (maxBytes < LARGE_BODY_BYTES || (Number.isFinite(declared) && declared < LARGE_BODY_BYTES)) return;
  if (largeBodies >= LARGE_BODIES_AT_ONCE)
    throw new ApiError(
      ErrorCode.ApiBusy,
      `${largeBodies} large request bodies (${LARGE_BODY_BYTES / 1024} KiB or more) are being written already, at most ` +
        `${LARGE_BODIES_AT_ONCE} at once: send this one again after ${BUSY_RETRY_AFTER_SECONDS} s (Retry-After), or in smaller parts`,
      { 'retry-after': String(BUSY_RETRY_AFTER_SECONDS) },
    );
  largeBodies += 1;
  res.once('close', () => {
    largeBodies -= 1;
  });
}

/**
 * `maxDepth`: levels of arrays and objects the body may nest (checked on the text, before it is
 * parsed). `res`, the request's answer, is given where `maxBytes` allows a large body: it holds
 * its place until the answer is sent. `anyType`: read as JSON whatever type it declares, and empty
 * as null (the dashboard's login, which a fetch() of a JSON string without a Content-Type sends as
 * text/plain).
 */
export async function readJsonBody(
  req: IncomingMessage,
  maxBytes: number,
  maxDepth: number,
  res?: ServerResponse,
  { anyType = false }: { readonly anyType?: boolean } = {},
): Promise<unknown> {
  const type = req.headers['content-type'];
  if (!anyType && (type === undefined || !JSON_TYPE.test(type))) {
    throw new ApiError(
      ErrorCode.ApiUnsupportedMediaType,
      `the body must be JSON, sent with "Content-Type: application/json" (got ${type === undefined ? 'no Content-Type' : JSON.stringify(type)})`,
    );
  }
  const tooLarge = (): ApiError =>
    new ApiError(
      ErrorCode.ApiBodyTooLarge,
      `the body is larger than ${maxBytes} bytes${maxBytes >= LARGE_BODY_BYTES ? '; send fewer entries per request' : ''}`,
    );
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  if (res !== undefined) admitBody(req, res, maxBytes);
  // Events, not `for await`: leaving that loop early destroys the request, and its socket with the answer.
  const chunks = await new Promise<Buffer[]>((resolve, reject) => {
    const kept: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) reject(tooLarge());
      else kept.push(chunk);
    });
    req.once('end', () => resolve(kept));
    req.once('error', reject);
  });
  const text = Buffer.concat(chunks).toString('utf8');
  // A body of any type may be sent empty (a form's post without one): that is no value, not bad JSON.
  if (anyType && text.trim() === '') return null;
  const large = text.length >= LARGE_BODY_BYTES;
  if (large) await yieldToLoop();
  const tooDeep = await drainSliced(jsonDepthScan(text, maxDepth, BODY_SCAN_SLICE_CHARS));
  if (tooDeep !== undefined) {
    throw new ApiError(
      ErrorCode.ApiBadRequest,
      `the body nests more than ${maxDepth} levels of arrays and objects (at ${tooDeep})${
        // Only a body of entries nests this deep: the entry's own levels are 4.
        maxDepth > 4 ? `; an entry's args and kwargs may nest ${maxDepth - 4} (entryLimits.maxDepth)` : ''
      }`,
    );
  }
  if (large) await yieldToLoop();
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (error) {
    throw new ApiError(ErrorCode.ApiBadRequest, `the body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (large) await yieldToLoop();
  const badKey = await drainSliced(jsonKeyScan(text, BODY_SCAN_SLICE_CHARS));
  if (badKey !== undefined) throw new ApiError(ErrorCode.ApiBadRequest, jsonKeyMessage(badKey));
  return value;
}
