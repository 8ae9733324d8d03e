/**
 * The HTTP endpoints: /healthz (the process and its loops are alive), /readyz (connected and either
 * leading or a healthy standby), /metrics (Prometheus text), /status (JSON), all read-only, and the
 * runtime entries API under /api/entries (entries-api.ts), whose writes need the bearer token.
 * /status and the API's reads answer loopback clients, and others only with the token (auth.ts).
 * Anything else is 404; any method but GET/HEAD on a read-only path is 405.
 * Routes handed in (`routes`: the dashboard, src/dashboard/) answer first, with their own rules.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BeatError, ErrorCode, errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import type { BeatMetrics } from '../observe/metrics.js';
import { authorizeRead } from './auth.js';
import type { HttpAccess } from './auth.js';
import { ENTRIES_PATH, sendError, sendRefusal, serveEntries } from './entries-api.js';
import type { EntriesHandlers } from './entries-api.js';

export interface Probe {
  readonly ok: boolean;
  readonly reason: string;
}

export interface HttpHandlers {
  health(): Probe;
  ready(): Promise<Probe>;
  status(): Promise<unknown>;
  readonly metrics: BeatMetrics;
  /** The runtime entries API; without it /api/entries is 404. */
  readonly entries?: EntriesHandlers;
  /** Who may read the schedule and write entries (no token: writes are refused, reads are loopback-only). */
  readonly access?: HttpAccess;
  /** More routes (the dashboard), tried first: true when it answered the request. */
  readonly routes?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
}

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

function send(res: ServerResponse, code: number, type: string, body: string): void {
  res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function probe(res: ServerResponse, result: Probe): void {
  send(res, result.ok ? 200 : 503, 'text/plain; charset=utf-8', `${result.ok ? 'ok' : 'not ok'}: ${result.reason}\n`);
}

export async function startHttpServer(
  address: HttpAddress,
  handlers: HttpHandlers,
  logger: Logger,
): Promise<{ server: Server; address: HttpAddress; close(): Promise<void> }> {
  const access = handlers.access ?? {};
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (handlers.routes !== undefined && (await handlers.routes(req, res))) return;
    const url = new URL(req.url ?? '/', 'http://tsbeat');
    if (url.pathname === ENTRIES_PATH || url.pathname.startsWith(`${ENTRIES_PATH}/`)) {
      await serveEntries(req, res, url, handlers.entries, access, logger);
      return;
    }
    if (url.pathname.startsWith('/api/')) {
      sendError(res, 404, ErrorCode.ApiNotFound, `not found; the API serves ${ENTRIES_PATH} and ${ENTRIES_PATH}/NAME`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, 'text/plain; charset=utf-8', 'read-only: use GET\n');
      return;
    }
    switch (url.pathname) {
      case '/healthz':
        probe(res, handlers.health());
        return;
      case '/readyz':
        probe(res, await handlers.ready());
        return;
      case '/metrics':
        send(res, 200, handlers.metrics.registry.contentType, await handlers.metrics.registry.metrics());
        return;
      case '/status': {
        const refusal = authorizeRead(req, access);
        if (refusal !== undefined) {
          sendRefusal(req, res, refusal, logger);
          return;
        }
        let status: unknown;
        try {
          status = await handlers.status();
        } catch (error) {
          // The status lives in Redis: while Redis is unreachable that is "unavailable, try again"
          // (503, with the reason), not an internal error (it was a bare 500 "internal error").
          send(res, 503, 'application/json; charset=utf-8', `${JSON.stringify({ error: `status unavailable: ${errorMessage(error)}` })}\n`);
          return;
        }
        send(res, 200, 'application/json; charset=utf-8', `${JSON.stringify(status, null, 2)}\n`);
        return;
      }
      default:
        send(res, 404, 'text/plain; charset=utf-8', 'not found; try /healthz, /readyz, /metrics, /status or /api/entries\n');
    }
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error({ event: EVENTS.httpError, path: req.url, err: error }, 'HTTP handler failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(new BeatError(ErrorCode.Usage, `cannot listen on ${address.host}:${address.port}: ${errorMessage(error)}`, { cause: error })),
    );
    server.listen(address.port, address.host, () => resolve());
  });
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
