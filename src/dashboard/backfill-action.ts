/** The dashboard's backfill (its entry page's form): the entries API's, with the session as who and the body's note. */
import type { IncomingMessage } from 'node:http';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { Refusal, readJson } from './replies.js';
import type { ChangeBy, DashboardSources } from './sources.js';

export async function dashboardBackfill(
  sources: DashboardSources,
  req: IncomingMessage,
  name: string,
  changeBy: (note: string | undefined) => ChangeBy,
  logger: Logger,
): Promise<{ status: number; body: unknown }> {
  const api = sources.entriesApi;
  if (api?.backfill === undefined) throw new Refusal(501, 'no_backfill', 'backfills are not served by this server');
  const body = await readJson(req);
  const note = typeof body === 'object' && body !== null ? (body as { note?: unknown }).note : undefined;
  logger.info(
    { event: EVENTS.dashboardAction, action: 'backfill', entry: name, client: req.socket.remoteAddress },
    `dashboard: backfill ${name}`,
  );
  return api.backfill(name, body, changeBy(typeof note === 'string' ? note : undefined));
}
