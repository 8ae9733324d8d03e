/**
 * examples/django-reports as its README runs it: a real Django site on a private PostgreSQL, whose view
 * creates a customer's report entry (a Celery canvas, labels, an owner) through the Python client, and
 * whose `manage.py sync_schedules` makes the site's entries those of its beat_schedule by plan and
 * apply, against a real `beat run --http` on a private Redis. What tsbeat stores is read back over its
 * API; a bad customer setting is refused with the API's problems and nothing is written.
 */
import { spawnSync } from 'node:child_process';
import { get } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, FAST_LOCK, TempDir } from '../support/beat-process.js';
import { PYTHON } from '../support/celery.js';
import { repoRoot } from '../support/cli.js';
import { httpPortOf, startPrivateRedis } from '../support/ops.js';
import { PrivatePostgres } from '../support/postgres-server.js';
import { freePort } from '../support/redis-server.js';
import type { PrivateRedis } from '../support/redis-server.js';

const TOKEN = 'django-example-write-0123456789';
const SITE = join(repoRoot, 'examples/django-reports');

describe('the Django example on a private PostgreSQL, against a real beat', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let redis: PrivateRedis;
  let pg: PrivatePostgres;
  let port = 0;
  let env: NodeJS.ProcessEnv = {};

  /** `manage.py ARGS` in the example, as its README runs it. */
  const manage = (args: readonly string[]) => {
    const r = spawnSync(PYTHON, ['manage.py', ...args], { cwd: SITE, env, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status ?? -1, out: r.stdout, err: `${r.stderr}${r.error ? String(r.error) : ''}` };
  };
  /** One request to the site's view through Django's own test client (the real URLconf, middleware and database). */
  const view = (method: 'put' | 'delete', customer: number, body = '{}') => {
    const code = [
      'from django.test import Client',
      `r = Client().${method}('/customers/${customer}/report-schedule', ${JSON.stringify(body)}, content_type='application/json')`,
      'print(r.status_code, r.content.decode())',
    ].join('; ');
    const r = manage(['shell', '-c', code]);
    expect(r.code, r.err).toBe(0);
    const [status, ...rest] = r.out.trim().split(' ');
    return { status: Number(status), body: JSON.parse(rest.join(' ')) as Record<string, unknown> };
  };
  /** A GET of the API on a connection of its own (seconds pass between them while Django starts). */
  const api = (path: string) =>
    new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
      const req = get({ host: '127.0.0.1', port, path, agent: false, headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
      });
      req.on('error', reject);
    });

  beforeAll(async () => {
    redis = await startPrivateRedis();
    pg = new PrivatePostgres(await freePort());
    await pg.start();
    await pg.createDatabase('reports');
    const config = dir.write(
      'beat.yaml',
      [
        'name: django-example',
        `broker: { url: "${redis.url(0)}" }`,
        `lock: { ttl: ${FAST_LOCK.ttl}, renewEvery: ${FAST_LOCK.renewEvery}, retryEvery: ${FAST_LOCK.retryEvery} }`,
        'beatSchedule: {}',
        '',
      ].join('\n'),
    );
    const tokens = dir.write('tokens', `reportsite:${TOKEN}\n`);
    const leader = fleet.spawn({ config, label: 'leader', args: ['--http', '127.0.0.1:0', '--api-token-file', tokens] });
    port = await httpPortOf(leader);
    await leader.waitForEvent(EVENTS.lockAcquired, 10_000);
    env = {
      PATH: process.env['PATH'],
      PYTHONPATH: [join(repoRoot, 'clients/python/src'), process.env['PYTHONPATH']].filter(Boolean).join(':'),
      DJANGO_DB_URL: pg.url('reports'),
      TSBEAT_URL: `http://127.0.0.1:${port}`,
      TSBEAT_TOKEN: TOKEN,
    };
    const migrated = manage(['migrate', '--noinput']);
    expect(migrated.code, migrated.err).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await fleet.killAll();
    await pg?.stop();
    await redis?.stop();
    dir.remove();
  });

  it("the view creates, changes and deletes a customer's report entry: a canvas with labels and an owner", async () => {
    const made = manage([
      'shell',
      '-c',
      "from reports.models import Customer; print(Customer.objects.create(name='Acme', report_hour=7).pk)",
    ]);
    expect(made.code, made.err).toBe(0);
    const customer = Number(made.out.trim());

    expect(view('put', customer, '{"format": "csv"}')).toMatchObject({ status: 200, body: { entry: `report-customer-${customer}` } });
    const stored = await api(`/api/entries/report-customer-${customer}`);
    expect(stored.status).toBe(200);
    expect(stored.body['entry']).toMatchObject({
      schedule: { crontab: { minute: 0, hour: 7 } },
      chain: [
        { task: 'reports.build_report', args: [customer, 'csv'] },
        { task: 'reports.render' },
        { task: 'reports.mail', kwargs: { to: `customer-${customer}@example.com` } },
      ],
      labels: { app: 'reports', customer: String(customer) },
      owner: 'reportsite-customers',
    });

    expect(view('delete', customer).status).toBe(200);
    expect((await api(`/api/entries/report-customer-${customer}`)).status).toBe(404);
  }, 60_000);

  it("a request tsbeat refuses comes back as the API's problems, and nothing is written", async () => {
    const made = manage(['shell', '-c', "from reports.models import Customer; print(Customer.objects.create(name='Own workers').pk)"]);
    expect(made.code, made.err).toBe(0);
    const customer = Number(made.out.trim());
    // A queue whose Redis list would be kombu's own acknowledgement key: refused by tsbeat, not by Celery.
    const refused = view('put', customer, '{"queue": "unacked"}');
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body['problems'])).toMatch(/chain\[0\]\.options\.queue/);
    expect((await api(`/api/entries/report-customer-${customer}`)).status).toBe(404);
  }, 60_000);

  it('sync_schedules plans, applies, then finds nothing to do, and leaves the view-made entries alone', async () => {
    const made = manage(['shell', '-c', "from reports.models import Customer; print(Customer.objects.create(name='Kept').pk)"]);
    const customer = Number(made.out.trim());
    expect(view('put', customer).status).toBe(200);

    const dry = manage(['sync_schedules', '--dry-run']);
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toContain('plan: 2 to add');
    expect((await api('/api/entries/reports-digest')).status).toBe(404);

    const applied = manage(['sync_schedules']);
    expect(applied.code, applied.err).toBe(0);
    expect(applied.out).toContain('applied');
    const digest = await api('/api/entries/reports-digest');
    expect(digest.body['entry']).toMatchObject({
      task: 'reports.digest',
      owner: 'reportsite',
      schedule: { crontab: { hour: 2, minute: 0, day_of_week: 'mon-fri' } },
    });
    expect((await api('/api/entries/reports-cleanup')).body['entry']).toMatchObject({ schedule: 3600, options: { queue: 'maintenance' } });

    const again = manage(['sync_schedules']);
    expect(again.out).toContain('0 to add, 0 to change, 0 to remove, 2 unchanged');
    expect((await api(`/api/entries/report-customer-${customer}`)).status).toBe(200);
  }, 90_000);
});
