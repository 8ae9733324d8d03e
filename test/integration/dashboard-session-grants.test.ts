/**
 * A dashboard session opened with a token holds that token's grants as the tokens file says now
 * (issue 67), against a real `beat run --http` on a private redis-server, loopback not trusted (as
 * behind a proxy) so that a request without a credential is refused: a reload that narrows the
 * token narrows the session; a reload that removes the token, or gives its name another secret,
 * ends the session (401, logged), never leaving it a reader of the whole deployment.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, FAST_LOCK, TempDir } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import type { PrivateRedis } from '../support/redis-server.js';
import { httpPortOf, startPrivateRedis, uniqueName } from '../support/ops.js';

const ADMIN_TOKEN = 'session-grants-admin-0123456789';
const BILLING_TOKEN = 'session-grants-billing-0123456789';
const ROTATED_TOKEN = 'session-grants-rotated-0123456789';

describe('a token’s dashboard session follows the tokens file (real beat run)', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let beat: BeatProcess;
  let base: string;
  let tokens: string;

  beforeAll(async () => {
    server = await startPrivateRedis();
    const name = uniqueName('session-grants');
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: server.url(0) },
      maxInterval: '200ms',
      lock: FAST_LOCK,
      beatSchedule: {
        'billing-report': { task: 't.billing', schedule: 3600, labels: { team: 'billing' } },
        'ops-payroll': { task: 't.ops', schedule: 3600, labels: { team: 'ops' }, args: ['s3cr3t'] },
      },
    });
    tokens = dir.write('tokens', `admin:${ADMIN_TOKEN}\nbilling:operator@team=billing:${BILLING_TOKEN}\n`);
    beat = fleet.spawn({
      config: file,
      label: 'session-grants',
      args: ['--http', '127.0.0.1:0', '--api-token-file', tokens, '--http-not-loopback', '127.0.0.1'],
    });
    await beat.waitForEvent(EVENTS.lockAcquired, 15_000);
    base = `http://127.0.0.1:${await httpPortOf(beat)}`;
  }, 60_000);

  afterAll(async () => {
    await fleet.killAll();
    await server?.stop();
    dir.remove();
  });

  /** A login with `token`: the session's cookie and CSRF token. */
  async function login(token: string): Promise<{ cookie: string; csrf: string; status: number }> {
    const answer = await fetch(`${base}/ui/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: base },
      body: JSON.stringify({ token }),
    });
    const body = (await answer.json()) as { csrf?: string };
    return { cookie: (answer.headers.get('set-cookie') ?? '').split(';')[0]!, csrf: body.csrf ?? '', status: answer.status };
  }
  const read = async (cookie: string, path: string) => {
    const answer = await fetch(`${base}${path}`, { headers: { cookie } });
    return { status: answer.status, text: await answer.text() };
  };
  const pause = (session: { cookie: string; csrf: string }, entry: string) =>
    fetch(`${base}/api/entries/${entry}/pause`, {
      method: 'POST',
      headers: { cookie: session.cookie, origin: base, 'x-csrf-token': session.csrf },
    });
  const names = (text: string) => ((JSON.parse(text) as { entries: { name: string }[] }).entries ?? []).map((e) => e.name);
  async function reloadWith(lines: string): Promise<void> {
    const from = beat.logs.length;
    writeFileSync(tokens, lines);
    beat.signal('SIGHUP');
    await beat.waitForEvent(EVENTS.apiTokensReloaded, 10_000, from);
  }

  it('a reload that narrows the token narrows its open session; one that removes it or rotates its secret ends it (401), never a whole-deployment reader', async () => {
    const session = await login(BILLING_TOKEN);
    expect(session.status).toBe(200);
    expect(names((await read(session.cookie, '/api/status')).text)).toEqual(['billing-report']);
    expect((await pause(session, 'billing-report')).status).toBe(200);

    // Narrowed to viewer: it still reads billing's entries, and may no longer pause.
    await reloadWith(`admin:${ADMIN_TOKEN}\nbilling:viewer@team=billing:${BILLING_TOKEN}\n`);
    expect(names((await read(session.cookie, '/api/status')).text)).toEqual(['billing-report']);
    expect((await pause(session, 'billing-report')).status).toBe(403);

    // Removed: the session ends, and stays ended when the line comes back.
    const from = beat.logs.length;
    await reloadWith(`admin:${ADMIN_TOKEN}\n`);
    for (const path of ['/api/status', '/ui/api/entries', '/status']) {
      const answer = await read(session.cookie, path);
      expect(answer.status, path).toBe(401);
      expect(answer.text, path).not.toContain('ops-payroll');
    }
    expect(await beat.waitForEvent(EVENTS.dashboardSessionEnded, 5_000, from)).toMatchObject({ who: 'dashboard:billing' });
    expect(JSON.stringify(beat.logs.slice(from))).not.toContain(BILLING_TOKEN);

    // Rotated: the name given another secret. A session opened with the old secret ends; the new one logs in.
    await reloadWith(`admin:${ADMIN_TOKEN}\nbilling:operator@team=billing:${BILLING_TOKEN}\n`);
    const old = await login(BILLING_TOKEN);
    expect(names((await read(old.cookie, '/api/status')).text)).toEqual(['billing-report']);
    await reloadWith(`admin:${ADMIN_TOKEN}\nbilling:operator@team=billing:${ROTATED_TOKEN}\n`);
    expect((await read(old.cookie, '/api/status')).status).toBe(401);
    expect((await login(BILLING_TOKEN)).status).toBe(401);
    const rotated = await login(ROTATED_TOKEN);
    expect(names((await read(rotated.cookie, '/api/status')).text)).toEqual(['billing-report']);
  }, 60_000);
});
