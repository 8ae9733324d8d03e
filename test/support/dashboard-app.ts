/** A dashboard's routes served alone on a loopback port, to a caller with the grants given (what the server's app sets). */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import { VIEWER } from '../../src/core/grants.js';
import type { Grant } from '../../src/core/grants.js';
import type { Dashboard } from '../../src/dashboard/routes.js';
import type { ApiEnv } from '../../src/http/api-ports.js';

export async function serveDashboard(
  dashboard: Dashboard,
  grants: readonly Grant[] = VIEWER,
): Promise<{ url: string; close: () => Promise<void> }> {
  const app = new Hono<ApiEnv>();
  app.use('*', async (c, next) => {
    c.set('grants', grants);
    await next();
  });
  app.route('/', dashboard.routes());
  const listener = getRequestListener(app.fetch);
  const server = createServer((req, res) => void listener(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
