import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/base/errors.js';
import { checkInEnvelope, inProgressCheckIn, SentryCheckIns } from '../../src/alerts/sentry-checkins.js';
import type { SendEnvelope } from '../../src/alerts/sentry-checkins.js';
import { createLogger } from '../../src/base/log.js';
import { compileMessageTemplate, renderTaskMessage } from '../../src/celery/message.js';
import { parseConfig } from '../../src/config/load.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';
import { parseSentryDsn, sentryCheckInId } from '../../src/config/sentry-schema.js';
import type { PublishedRun } from '../../src/ports/events.js';
import { ENV, config } from '../support/messages.js';

const DSN = 'https://pk@o1.ingest.example.io/42';
const ID = '694bcd2a-0000-4000-8000-3048d0d0e8d0';

/** Every problem `beat check` reports for this config, as "path: message". */
function problems(value: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(value, 'test', undefined, undefined, undefined, env);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map((p) => `${p.path}: ${p.message}`);
  }
}

function monitored(schedule: unknown, sentry: unknown = true, extra: Record<string, unknown> = {}): ResolvedEntry {
  const resolved = parseConfig(
    { timezone: 'Europe/Berlin', sentry: { dsn: DSN }, beatSchedule: { job: { task: 't', schedule, monitor: { sentry }, ...extra } } },
    'test',
  );
  return resolved.entries[0] as ResolvedEntry;
}

describe('monitor.sentry: the monitor config sentry-python would send', () => {
  it('writes crontabs out as five numeric fields and intervals in the largest whole unit', () => {
    expect(monitored({ crontab: { minute: '*/15', hour: 3, day_of_week: 'mon-fri' } }).sentry).toEqual({
      slug: 'job',
      config: { schedule: { type: 'crontab', value: '*/15 3 * * 1-5' }, timezone: 'Europe/Berlin' },
    });
    expect(monitored({ cron: '@daily' }).sentry?.config.schedule).toEqual({ type: 'crontab', value: '0 0 * * *' });
    expect(monitored({ cron: '5,6,7,30 1-3 1,15 jan,jul 0' }).sentry?.config.schedule).toEqual({
      type: 'crontab',
      value: '5-7,30 1-3 1,15 */6 0', // months 1 and 7
    });
    // sentry-python truncates 90 minutes to "1 hour"; Sentry would then expect runs that never come.
    expect(monitored({ timedelta: { minutes: 90 } }).sentry?.config.schedule).toEqual({ type: 'interval', value: 90, unit: 'minute' });
    expect(monitored(2 * 86_400).sentry?.config.schedule).toEqual({ type: 'interval', value: 2, unit: 'day' });
  });

  it('adds the thresholds given, in Sentry units (minutes), and takes a slug of its own', () => {
    const sentry = monitored(3600, {
      slug: 'nightly',
      checkinMargin: '5m',
      maxRuntime: '2h',
      failureIssueThreshold: 2,
      recoveryThreshold: 3,
      owner: 'team:7',
    }).sentry;
    expect(sentry).toEqual({
      slug: 'nightly',
      config: {
        schedule: { type: 'interval', value: 1, unit: 'hour' },
        timezone: 'Europe/Berlin',
        checkin_margin: 5,
        max_runtime: 120,
        failure_issue_threshold: 2,
        recovery_threshold: 3,
        owner: 'team:7',
      },
    });
  });

  it('refuses schedules Sentry cannot follow, margins that are not whole minutes, and a missing DSN, naming the fix', () => {
    const entries = {
      fast: { task: 't', schedule: 30, monitor: { sentry: true } },
      sunny: { task: 't', schedule: { solar: { event: 'sunrise', lat: 1, lon: 2 } }, monitor: { sentry: true } },
      secs: { task: 't', schedule: { cron: '*/10 * * * * *', seconds: true }, monitor: { sentry: true } },
      last: { task: 't', schedule: { cron: '0 0 L * *' }, monitor: { sentry: { checkinMargin: 30 } } },
    };
    expect(problems({ sentry: { dsn: DSN }, beatSchedule: entries })).toEqual([
      'beatSchedule.fast.monitor.sentry: Sentry Crons follows intervals of whole minutes, and this one is 30 s; make it a whole number of minutes, or leave monitor.sentry out for this entry',
      'beatSchedule.sunny.monitor.sentry: Sentry Crons follows crontab and interval schedules only, not solar, or leave monitor.sentry out for this entry',
      'beatSchedule.secs.monitor.sentry: Sentry Crons follows five-field crontabs: a seconds field has no equivalent there, or leave monitor.sentry out for this entry',
      `beatSchedule.last.monitor.sentry.checkinMargin: monitor.sentry.checkinMargin is in whole minutes (Sentry's unit), from "1m" to "28d", got 30 s`,
      'beatSchedule.last.monitor.sentry: Sentry Crons cannot follow L, W or # in a crontab, or leave monitor.sentry out for this entry',
    ]);
    const twoMonitored = {
      a: { task: 't', schedule: 60, monitor: { sentry: true } },
      b: { task: 't', schedule: 60, monitor: { sentry: true } },
    };
    expect(problems({ beatSchedule: twoMonitored })).toEqual([
      "beatSchedule.a.monitor.sentry: Sentry check-ins need a DSN (so do 1 more entry with monitor.sentry): set sentry.dsn in the config or $SENTRY_DSN (the DSN your workers' sentry_sdk.init uses), or leave monitor.sentry out",
    ]);
    expect(problems({ beatSchedule: twoMonitored }, { SENTRY_DSN: DSN })).toEqual([]);
    expect(problems({ beatSchedule: twoMonitored }, { SENTRY_DSN: 'https://pk@host/project' })).toEqual([
      'SENTRY_DSN: SENTRY_DSN must end in the project id (a number), got "project"',
    ]);
    expect(problems({ sentry: { dsn: 'ftp://pk@host/1' } })).toEqual(['sentry.dsn: sentry.dsn must be http:// or https://, got ftp://']);
    expect(problems({ sentry: { dsn: DSN }, beatSchedule: { '!!!': { task: 't', schedule: 60, monitor: { sentry: true } } } })).toEqual([
      'beatSchedule["!!!"].monitor.sentry: the Sentry monitor slug "!!!" becomes empty in Sentry, which keeps 1 to 50; give monitor.sentry.slug',
    ]);
  });

  it('reads a DSN as sentry-python does, path prefix and secret included', () => {
    expect(parseSentryDsn('http://pub:sec@127.0.0.1:9000/sentry/42')).toEqual({
      envelopeUrl: 'http://127.0.0.1:9000/sentry/api/42/envelope/',
      publicKey: 'pub',
      secretKey: 'sec',
      projectId: '42',
    });
    expect(parseSentryDsn(DSN)).toMatchObject({ envelopeUrl: 'https://o1.ingest.example.io/api/42/envelope/', secretKey: undefined });
  });

  it('takes $SENTRY_DSN over sentry.dsn, and the environment from the config, then $SENTRY_ENVIRONMENT, then "production"', () => {
    const env = { SENTRY_DSN: 'https://other@h/7', SENTRY_ENVIRONMENT: 'staging', SENTRY_RELEASE: 'r1' };
    expect(parseConfig({ sentry: { dsn: DSN } }, 't', undefined, undefined, undefined, env).sentry).toMatchObject({
      dsn: { projectId: '7' },
      environment: 'staging',
      release: 'r1',
    });
    expect(
      parseConfig({ sentry: { dsn: DSN, environment: 'prod-eu' } }, 't', undefined, undefined, undefined, env).sentry?.environment,
    ).toBe('prod-eu');
    expect(parseConfig({ sentry: { dsn: DSN } }, 't').sentry).toMatchObject({ environment: 'production', release: undefined });
    expect(parseConfig({}, 't').sentry).toBeUndefined();
  });
});

describe('the check-in headers of a monitored run', () => {
  const NOW = Date.UTC(2026, 10, 21, 5, 32, 51, 392);
  const headersOf = (e: ResolvedEntry, protocol: 1 | 2 = 2, taskId = ID): Record<string, unknown> =>
    JSON.parse(
      renderTaskMessage(compileMessageTemplate(e, config({ taskProtocol: protocol }), ENV), { taskId, slotMs: NOW, nowMs: NOW })
        .headersJson,
    ) as Record<string, unknown>;

  it('puts them at the top of the headers and nested in `headers` (task.request.headers), as sentry-python beat does', () => {
    const e = monitored({ cron: '0 3 * * *' });
    const sentry = {
      'sentry-monitor-slug': 'job',
      'sentry-monitor-config': { schedule: { type: 'crontab', value: '0 3 * * *' }, timezone: 'Europe/Berlin' },
      'sentry-monitor-check-in-id': ID.replace(/-/g, ''),
      'sentry-monitor-start-timestamp-s': '1795239171.392000000',
    };
    for (const protocol of [1, 2] as const) {
      const headers = headersOf(e, protocol);
      expect(headers).toMatchObject({ ...sentry, headers: sentry });
    }
    // Entries without a monitor carry none of it.
    const { sentry: _monitor, ...unmonitored } = e;
    const plain = headersOf(unmonitored);
    expect(Object.keys(plain).filter((k) => k.startsWith('sentry') || k === 'headers')).toEqual([]);
  });

  it('derives the check-in id from the task id: the same run keeps one id, other ids become a UUID too', () => {
    expect(sentryCheckInId(ID)).toBe(ID.replace(/-/g, ''));
    const other = sentryCheckInId('my-manual-run');
    expect(other).toMatch(/^[0-9a-f]{12}5[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
    expect(sentryCheckInId('my-manual-run')).toBe(other);
  });
});

describe('the check-in sender', () => {
  const settings = {
    dsn: parseSentryDsn(DSN) as Exclude<ReturnType<typeof parseSentryDsn>, string>,
    environment: 'production',
    release: undefined,
  };
  const run = (id: string): PublishedRun => ({
    entry: monitored(60),
    slotMs: 0,
    id,
    destination: {
      exchange: '',
      exchangeType: 'direct',
      routingKey: 'celery',
      declareQueue: 'celery',
      priority: undefined,
      matchedRoute: undefined,
    },
  });

  it("writes an envelope whose item lengths are the payloads' UTF-8 bytes", () => {
    const checkIn =
      inProgressCheckIn(
        { ...run(ID), entry: { ...run(ID).entry, sentry: { slug: 'nächtlich', config: monitored(60).sentry?.config } } } as PublishedRun,
        settings,
      ) ?? '';
    const lines = checkInEnvelope([checkIn], 0).split('\n');
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ sent_at: '1970-01-01T00:00:00.000Z' });
    expect(JSON.parse(lines[1] ?? '')).toEqual({ type: 'check_in', content_type: 'application/json', length: Buffer.byteLength(checkIn) });
    expect(JSON.parse(lines[2] ?? '')).toMatchObject({ monitor_slug: 'nächtlich', status: 'in_progress', environment: 'production' });
  });

  it('retries an envelope Sentry did not take, after the backoff, then sends it once', async () => {
    let nowMs = 1_000_000;
    const sent: string[] = [];
    const statuses = [503, 200];
    const send: SendEnvelope = (_url, _headers, body) => {
      sent.push(body);
      return Promise.resolve({ status: statuses.shift() ?? 200, retryAfter: null });
    };
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(line) } });
    const sender = new SentryCheckIns({ settings, logger, now: () => nowMs, send });
    sender.start();
    sender.published(run(ID));
    sender.published(run('7f0c0b5e-0000-4000-8000-000000000001'));
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(sent).toHaveLength(1);
    // Not before the backoff of 1 s, by the sender's clock.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(sent).toHaveLength(1);
    nowMs += 1000;
    await new Promise((resolve) => setTimeout(resolve, 600));
    await sender.stop();
    expect(sent).toHaveLength(2);
    // The same check-ins again (the envelope's header line says when it was sent).
    const items = (body: string | undefined): string => (body ?? '').slice((body ?? '').indexOf('\n'));
    expect(items(sent[1])).toBe(items(sent[0]));
    expect((sent[1]?.match(/"type":"check_in"/g) ?? []).length).toBe(4); // two items: header and payload each name the type
    expect(lines.map((l) => (JSON.parse(l) as { event?: string }).event)).toEqual(['beat.sentry.retry', 'beat.sentry.sent']);
  });
});
