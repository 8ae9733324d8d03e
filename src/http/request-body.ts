/**
 * A request's JSON body, read with a size limit: refused with 413 before it is parsed when larger
 * (by its Content-Length, or as it streams in), 415 when it is not declared JSON, 400 when it does
 * not parse, nests too deep, or holds a key twice in one object or a `__proto__` (json-keys.ts).
 */
import type { IncomingMessage } from 'node:http';
import { ErrorCode } from '../base/errors.js';
import { ApiError, jsonDepthProblem } from './failures.js';
import { jsonKeyMessage, jsonKeyProblem } from '../base/json-keys.js';

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** `maxDepth`: levels of arrays and objects the body may nest (checked on the text, before it is parsed). */
export async function readJsonBody(req: IncomingMessage, maxBytes: number, maxDepth: number): Promise<unknown> {
  const type = req.headers['content-type'];
  if (type === undefined || !JSON_TYPE.test(type)) {
    throw new ApiError(
      ErrorCode.ApiUnsupportedMediaType,
      `the body must be JSON, sent with "Content-Type: application/json" (got ${type === undefined ? 'no Content-Type' : JSON.stringify(type)})`,
    );
  }
  const tooLarge = (): ApiError =>
    new ApiError(ErrorCode.ApiBodyTooLarge, `the body is larger than ${maxBytes} bytes; send fewer entries per request`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
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
  const tooDeep = jsonDepthProblem(text, maxDepth);
  if (tooDeep !== undefined) {
    throw new ApiError(
      ErrorCode.ApiBadRequest,
      `the body nests more than ${maxDepth} levels of arrays and objects (at ${tooDeep}); an entry's args and kwargs may nest ${maxDepth - 4} (entryLimits.maxDepth)`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (error) {
    throw new ApiError(ErrorCode.ApiBadRequest, `the body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const badKey = jsonKeyProblem(text);
  if (badKey !== undefined) throw new ApiError(ErrorCode.ApiBadRequest, jsonKeyMessage(badKey));
  return value;
}
