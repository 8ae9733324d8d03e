/**
 * The HTTP server of `beat run --http`: node:http with its own limits (header size, request and
 * header timeouts) and an answer, with a code, to what it cannot parse; each request is handed to
 * the one router (api-app.ts: the probes, /metrics, /status, /api/* and the dashboard), loaded only
 * here, so that a command without --http never loads Hono.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { BeatError, ErrorCode, errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import type { HttpHandlers } from './api-ports.js';
import { ApiError } from './failures.js';

/** After answering a request it could not parse, the HTTP server reads and drops what the client still sends this long before closing. */
const HTTP_LINGER_MS = 2000;

export type { HttpHandlers, Probe } from './api-ports.js';

export interface HttpAddress {
  readonly host: string;
  readonly port: number;
}

/** `HOST:PORT`, `:PORT` (all interfaces would be surprising: it means 127.0.0.1) or `[v6]:PORT`. */
export function parseHttpAddress(text: string, origin: string): HttpAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new BeatError(ErrorCode.Usage, `${origin} "${text}": expected HOST:PORT, such as 127.0.0.1:9808 or 0.0.0.0:9808`);
  }
  const host = match[1] ?? (match[2] === '' || match[2] === undefined ? '127.0.0.1' : match[2]);
  return { host, port };
}

export async function startHttpServer(
  address: HttpAddress,
  handlers: HttpHandlers,
  logger: Logger,
): Promise<{ server: Server; address: HttpAddress; close(): Promise<void> }> {
  const { getRequestListener } = await import('@hono/node-server');
  const { apiApp, failureResponse } = await import('./api-app.js');
  const app = apiApp(handlers, logger);
  const listener = getRequestListener(app.fetch, {
    // Only to make the URL of a request without a Host header (HTTP/1.0): who may read is judged by the header itself (auth.ts).
    hostname: 'localhost',
    // The globals stay Node's: other parts of the process (alerts, Sentry) use fetch.
    overrideGlobalObjects: false,
    // api-app.ts reads and drops a body no route read, without closing on it.
    autoCleanupIncoming: false,
    // A target or Host header the adapter cannot make a URL of: refused in the API's shape.
    errorHandler: (error) =>
      failureResponse(new ApiError(ErrorCode.ApiBadRequest, `the request is not valid: ${errorMessage(error)}`), {}, logger),
  });
  const server = createServer({ requireHostHeader: false }, (req, res) => void listener(req, res));
  answerUnparsedRequests(server);
  await listen(server, address);
  const bound = server.address() as AddressInfo;
  logger.info({ event: EVENTS.httpListen, host: bound.address, port: bound.port }, `HTTP on ${bound.address}:${bound.port}`);
  return {
    server,
    address: { host: bound.address, port: bound.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * A request Node cannot parse never reaches the handler: answered here, with a code, as the
 * handler would (Node's own answer to headers over its limit is a bare 431).
 */
function answerUnparsedRequests(server: Server): void {
  const answered = new WeakSet<Duplex>();
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    // Node reports the same broken request again with each later piece of it: answered once, and
    // the socket left to its lingering close.
    if (answered.has(socket)) return;
    answered.add(socket);
    if (!socket.writable || error.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    const status = tooLarge ? 431 : 400;
    const body = JSON.stringify({
      error: tooLarge
        ? "the request line and headers are over 16 KiB (Node's limit): send large values in the body"
        : `the request is not valid HTTP/1.1 (${error.code ?? 'parse error'})`,
      code: tooLarge ? ErrorCode.ApiHeadersTooLarge : ErrorCode.ApiBadRequest,
      problems: [],
    });
    socket.end(
      `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nconnection: close\r\n` +
        `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    // A lingering close: what the client still sends is read and dropped for a moment, as closing
    // on unread bytes resets the connection, and a reset can drop the answer before it is read.
    socket.on('data', () => undefined);
    socket.resume();
    setTimeout(() => socket.destroy(), HTTP_LINGER_MS).unref();
  });
}

function listen(server: Server, address: HttpAddress): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(new BeatError(ErrorCode.Usage, `cannot listen on ${address.host}:${address.port}: ${errorMessage(error)}`, { cause: error })),
    );
    server.listen(address.port, address.host, () => resolve());
  });
}
