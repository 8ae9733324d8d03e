/** How the dashboard answers: its headers (a strict Content-Security-Policy on everything), JSON, errors, and request bodies. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { jsonKeyMessage, jsonKeyProblem } from '../base/json-keys.js';
import type { ErrorWire, ProblemWire } from './wire.js';

/** Largest request body the dashboard reads (a login, an entry definition). */
const DASHBOARD_BODY_MAX_BYTES = 256 * 1024;

/**
 * Scripts, styles and requests from this server only, and nothing inline: data shown on the page
 * (entry names, args) can never become code, whatever it contains.
 */
export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const SECURITY_HEADERS = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

export function sendBody(res: ServerResponse, code: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  res.writeHead(code, { ...SECURITY_HEADERS, 'content-type': type, ...extra });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

export function sendJson(res: ServerResponse, code: number, value: unknown, extra: Record<string, string> = {}): void {
  sendBody(res, code, 'application/json; charset=utf-8', JSON.stringify(value), extra);
}

export function sendError(res: ServerResponse, status: number, code: string, error: string, problems?: readonly ProblemWire[]): void {
  const body: ErrorWire = problems === undefined ? { error, code } : { error, code, problems };
  sendJson(res, status, body);
}

/** A refusal the handler throws, answered with its status and JSON. */
export class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The request's JSON body (empty means null); too large or not JSON is a 400 that says so. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > DASHBOARD_BODY_MAX_BYTES) throw new Refusal(413, 'too_large', `the request body is over ${DASHBOARD_BODY_MAX_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return null;
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (error) {
    throw new Refusal(400, 'bad_json', `the request body is not JSON: ${(error as Error).message}`);
  }
  const badKey = jsonKeyProblem(text);
  if (badKey !== undefined) throw new Refusal(400, 'bad_json', jsonKeyMessage(badKey));
  return value;
}
