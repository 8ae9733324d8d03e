/**
 * Secrets never reach a log, an error, an audit line or a reply (issue 49). A scripted session plants
 * a secret in every place one can be given to tsbeat, then reads everything that came back (each
 * log line of `beat run --http`, each answer of its API, the audit trail, the output of the CLI)
 * and looks for every planted secret. The places:
 *
 * - the broker URL's password (a private Redis that requires it);
 * - a `?password=` query option of a broker URL, which kombu does not take, so `beat check`,
 *   `beat status` and `beat run` refuse the URL, naming it; and beside it an option named like no
 *   secret (`?bogus=`), whose value is masked all the same (issue 66);
 * - an alert ping with a token in its query and a secret in its path (healthchecks.io's key), whose
 *   receiver always fails (so `beat.alert.retry` lines are written for it);
 * - a config-file webhook and a runtime entry's webhook with `user:pass@` (refused: no alert could
 *   ever be sent with them);
 * - a runtime entry's webhook with a token in its query and a secret in its path (Slack's
 *   `/services/T/B/<secret>`): stored, its audit event and line mask both; and an audit event
 *   stored as tsbeat wrote them before it masked alert paths, which the trail's readers mask;
 * - the API token sent in a query string, which the API refuses (`beat.api.refused`).
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import { httpPortOf, runBeatCli, startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const PLANTED = {
  brokerPassword: 'planted-broker-pw-5d1e',
  queryPassword: 'planted-query-pw-88c0',
  queryBogus: 'planted-query-bogus-6a0f',
  pingToken: 'planted-ping-token-3b7a',
  pingPathKey: 'planted-ping-path-key-e815',
  configWebhookPassword: 'planted-cfg-hook-pw-9e24',
  entryWebhookPassword: 'planted-entry-hook-pw-41f6',
  entryWebhookToken: 'planted-entry-hook-token-c2d9',
  entryWebhookPathSecret: 'planted-entry-hook-path-5b3c',
  storedWebhookPathSecret: 'planted-stored-hook-path-7d21',
  apiToken: 'planted-api-token-0123456789abcdef',
} as const;

function leaked(text: string): string[] {
  return Object.entries(PLANTED)
    .filter(([, secret]) => text.includes(secret))
    .map(([name]) => name);
}

describe('secrets in a scripted session (beat run --http, the API, the CLI)', () => {
  let redis: PrivateRedis;
  let receiver: Server;
  let receiverPort = 0;
  let pingHits = 0;
  const dir = new TempDir();
  const fleet = new BeatFleet();

  beforeAll(async () => {
    redis = await startPrivateRedis({ password: PLANTED.brokerPassword });
    // A receiver that never takes an alert: every ping is retried, and each retry logged.
    receiver = createServer((req, res) => {
      pingHits += 1;
      req.resume();
      res.writeHead(503).end();
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverPort = (receiver.address() as AddressInfo).port;
  }, 30_000);

  afterAll(async () => {
    await fleet.killAll();
    await new Promise((resolve) => receiver.close(resolve));
    await redis.stop();
    dir.remove();
  });

  it('finds none of the planted secrets in any log line, error, audit line or reply', async () => {
    const seen: string[] = [];
    // Its own name at each attempt: a retry's write would otherwise change nothing, and audit nothing.
    const entry = `hooked-${Date.now()}`;
    const env = { BEAT_API_TOKEN: PLANTED.apiToken };

    // The config's broker URL with a ?password= kombu does not take: refused by check, status and run.
    const refusedUrl = `redis://127.0.0.1:${redis.port}/0?password=${PLANTED.queryPassword}&bogus=${PLANTED.queryBogus}`;
    const refusedFile = dir.write('refused.json', { name: 'secrets-refused', broker: { url: refusedUrl }, beatSchedule: {} });
    for (const argv of [
      ['check', '--config', refusedFile],
      ['status', '--config', refusedFile],
      ['run', '--config', refusedFile],
    ]) {
      const run = await runBeatCli(argv, { env });
      seen.push(run.stdout, run.stderr);
      expect(run.code, `${argv.join(' ')}: ${run.stderr}`).toBe(2);
      expect(run.stderr).toContain('password=***&bogus=***');
    }

    // A config webhook with user:pass@ passes no check: it could never be delivered.
    const hookFile = dir.write('hook.json', {
      name: 'secrets-hook',
      broker: { url: redis.url(0) },
      alerts: { webhook: `https://ops:${PLANTED.configWebhookPassword}@hooks.example.com/beat` },
      beatSchedule: {},
    });
    const check = await runBeatCli(['check', '--config', hookFile], { env });
    seen.push(check.stdout, check.stderr);
    expect(check.code).toBe(2);
    expect(check.stderr).toMatch(/alerts\.webhook .*holds credentials/);

    // The session: a leader whose every run pings a receiver that fails.
    const file = dir.write('secrets.json', {
      name: 'secrets',
      broker: { url: redis.url(0) },
      maxInterval: '200ms',
      lock: FAST_LOCK,
      beatSchedule: {
        pinged: {
          task: 'tsbeat_test.record',
          schedule: 1,
          alerts: { ping: `http://127.0.0.1:${receiverPort}/${PLANTED.pingPathKey}/pinged?token=${PLANTED.pingToken}` },
        },
      },
    });
    const beat = fleet.spawn({ config: file, args: ['--http', '127.0.0.1:0'], env });
    const port = await httpPortOf(beat);
    await beat.waitForEvent(EVENTS.lockAcquired, 15_000);
    const base = `http://127.0.0.1:${port}`;
    const auth = { authorization: `Bearer ${PLANTED.apiToken}`, 'content-type': 'application/json' };
    const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = auth): Promise<number> => {
      const res = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      const text = await res.text();
      // A written entry's definition, answered to the token holder who wrote it, is its data: its
      // webhook is kept as written (masking it would break a read, edit and write back).
      const definition = method === 'PUT' && res.status < 300;
      seen.push(`${res.status} ${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n${definition ? '' : text}`);
      return res.status;
    };

    // A runtime entry's webhook with credentials: 400, and the answer does not echo them.
    expect(
      await call('PUT', `/api/entries/${entry}`, {
        task: 'tsbeat_test.record',
        schedule: 60,
        alerts: { webhook: `https://ops:${PLANTED.entryWebhookPassword}@hooks.example.com/x` },
      }),
    ).toBe(400);
    // One with a token in its query and a secret in its path is taken; its audit event masks both.
    expect(
      await call('PUT', `/api/entries/${entry}`, {
        task: 'tsbeat_test.record',
        schedule: 60,
        alerts: {
          webhook: `https://hooks.example.com/services/T0/B0/${PLANTED.entryWebhookPathSecret}?token=${PLANTED.entryWebhookToken}`,
        },
      }),
    ).toBeLessThan(300);
    await beat.waitForEvent(EVENTS.audit, 10_000);
    // An event as the trail held them before alert paths were masked: a whole Slack URL.
    const client = new Redis(redis.url(0));
    const webhook = `https://hooks.slack.com/services/T0/B0/${PLANTED.storedWebhookPathSecret}`;
    const stored = JSON.stringify([{ path: 'alerts.webhook', after: JSON.stringify(webhook) }]);
    await client.xadd(
      schedulerKeys('tsbeat', 'secrets').audit,
      '*',
      'at',
      String(Date.now()),
      'who',
      'old@tsbeat',
      'entry',
      entry,
      'action',
      'update',
      'changes',
      stored,
    );
    client.disconnect();
    expect(await call('GET', '/api/audit')).toBe(200);
    expect(seen.at(-1)).toContain('https://hooks.slack.com/***');
    expect(seen.at(-1)).toContain('https://hooks.example.com/***');
    // The API token in a query string is refused (a write needs it in Authorization), and logged without it.
    expect(await call('DELETE', `/api/entries/${entry}?token=${PLANTED.apiToken}`, undefined, {})).toBe(401);
    await beat.waitForEvent(EVENTS.apiRefused, 10_000);
    for (const path of ['/readyz', '/status', '/healthz']) await call('GET', path);

    // Retries of the failing ping are logged.
    await waitUntil(
      'two beat.alert.retry lines',
      () => (beat.events(EVENTS.alertRetry).length >= 2 ? true : undefined),
      20_000,
      () => fleet.dump(),
    );
    expect(pingHits).toBeGreaterThanOrEqual(2);
    expect(beat.events(EVENTS.alertRetry)[0]).toMatchObject({ url: `http://127.0.0.1:${receiverPort}/***` });

    // `beat audit` and `beat status` against the live deployment.
    for (const argv of [
      ['audit', '--config', file],
      ['status', '--config', file],
    ]) {
      const run = await runBeatCli(argv, { env });
      seen.push(run.stdout, run.stderr);
      expect(run.code, `${argv.join(' ')}: ${run.stderr}`).toBe(0);
    }

    beat.signal('SIGTERM');
    await beat.waitForExit(15_000);
    seen.push(beat.allOutput());
    const all = seen.join('\n');
    // The session did write what was searched: the lines the secrets used to leak into.
    for (const event of [EVENTS.alertRetry, EVENTS.audit, EVENTS.apiRefused]) expect(all).toContain(event);
    const where = seen.flatMap((text) => text.split('\n')).filter((line) => leaked(line).length > 0);
    expect(where).toEqual([]);
  }, 120_000);
});
