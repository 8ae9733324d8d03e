import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findConfigFile, loadConfig, parseConfig } from '../../src/config/load.js';
import { configEntryNamed } from '../../src/config/resolve.js';
import { problemsOf } from '../support/config-problems.js';

const dir = mkdtempSync(join(tmpdir(), 'tsbeat-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('config schema', () => {
  it('applies Celery defaults and resolves every schedule form', () => {
    const config = parseConfig(
      {
        beatSchedule: {
          every: { task: 'a.b', schedule: 2.5 },
          td: { task: 'a.c', schedule: { timedelta: { hours: 1, minutes: 30 } }, relative: true },
          ct: { task: 'a.d', schedule: { crontab: { hour: 7, minute: 30, day_of_week: 'mon-fri' } }, timezone: 'Asia/Kolkata' },
          line: { task: 'a.e', schedule: { cron: '@daily' } },
          sun: { task: 'a.f', schedule: { solar: { event: 'sunrise', lat: 52.5, lon: 13.4 } } },
          once: { task: 'a.g', schedule: { clocked: '2027-01-01T09:00:00+01:00' } },
        },
      },
      'test',
    );
    expect(config.timezone).toBe('UTC');
    expect(config.taskDefaultQueue).toBe('celery');
    expect(config.taskProtocol).toBe(2);
    expect(config.broker.url).toBe('redis://127.0.0.1:6379/0');
    const byName = Object.fromEntries(config.entries.map((e) => [e.name, e]));
    expect(byName.every?.schedule).toEqual({ kind: 'interval', everyMs: 2500, relative: false });
    expect(byName.td?.schedule).toEqual({ kind: 'interval', everyMs: 5_400_000, relative: true });
    expect(byName.ct?.timezone).toBe('Asia/Kolkata');
    expect(byName.line?.timezone).toBe('UTC');
    expect(byName.once?.schedule).toEqual({ kind: 'clocked', atMs: Date.parse('2027-01-01T08:00:00Z') });
    expect(byName.every?.args).toEqual([]);
    expect(byName.every?.kwargs).toEqual({});
    expect(byName.every?.enabled).toBe(true);
  });

  it('applies the runtime defaults in milliseconds and reads durations with units', () => {
    const defaults = parseConfig({}, 'test');
    expect(defaults.name).toBe('default');
    expect(defaults.maxIntervalMs).toBe(1000);
    expect(defaults.lock).toEqual({ ttlMs: 10_000, renewEveryMs: 3333, retryEveryMs: 1000, urls: [], maxClockSkewMs: 1000 });
    expect(defaults.state).toEqual({ url: undefined, prefix: 'tsbeat' });
    const tuned = parseConfig(
      {
        name: 'billing-prod',
        beat_max_loop_interval: 0.5,
        lock: { ttl: '5s', retryEvery: '250ms', max_clock_skew: '250ms' },
        beatSchedule: { a: { task: 't', schedule: 1, catchUp: 'all', catchUpWindow: '1h30m', jitter: 2 } },
      },
      'test',
    );
    expect(tuned.maxIntervalMs).toBe(500);
    expect(tuned.lock).toEqual({ ttlMs: 5000, renewEveryMs: 1666, retryEveryMs: 250, urls: [], maxClockSkewMs: 250 });
    expect(tuned.entries[0]).toMatchObject({ catchUp: 'all', catchUpWindowMs: 5_400_000, jitterMs: 2000 });
    expect(problemsOf({ name: 'a b', lock: { ttl: '10 parsecs', maxClockSkew: 0 }, maxInterval: 0 })).toEqual([
      'name: name must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit',
      'maxInterval: maxInterval must be between 0.01 s and 1 day (86,400 s), got 0',
      'lock.ttl: lock.ttl must be a number of seconds or a duration such as "500ms", "10s", "5m", "1h30m", got "10 parsecs"',
      'lock.maxClockSkew: lock.maxClockSkew must be between 0.01 s and 1 day (86,400 s), got 0',
    ]);
  });

  it('accepts the snake_case spellings of a Python celeryconfig', () => {
    const config = parseConfig(
      {
        beat_schedule: { x: { task: 't', schedule: 5, options: { routing_key: 'rk', exchange: 'ex', soft_time_limit: 3 } } },
        task_default_queue: 'q',
        task_protocol: 1,
        broker: { url: 'redis://127.0.0.1:6379/3', transport_options: { global_keyprefix: 'p:', priority_steps: [0, 9] } },
      },
      'test',
    );
    expect(config.taskDefaultQueue).toBe('q');
    expect(config.taskProtocol).toBe(1);
    expect(config.broker.transportOptions).toEqual({ globalKeyprefix: 'p:', prioritySteps: [0, 9] });
    expect(config.entries[0]?.options).toEqual({ routingKey: 'rk', exchange: 'ex', softTimeLimit: 3 });
  });

  it('reads a clocked time without an offset in the entry time zone', () => {
    const config = parseConfig(
      { timezone: 'America/New_York', beatSchedule: { once: { task: 't', schedule: { clocked: '2027-07-01T09:00:00' } } } },
      'test',
    );
    expect(config.entries[0]?.schedule).toEqual({ kind: 'clocked', atMs: Date.parse('2027-07-01T13:00:00Z') });
  });

  it('reports every problem at once, each with its path and what is allowed', () => {
    expect(
      problemsOf({
        timezone: 'Mars/Olympus',
        beatSchedule: {
          nightly: { task: 'ops.backup', schedule: { crontab: { hour: 25 } } },
          typo: { task: 'a', schedule: { crontb: { hour: 1 } } },
          missing: { schedule: 5 },
          bad: { task: 'b', schedule: -3, args: 'nope' },
          line: { task: 'c', schedule: { cron: '0 0 30 2 *' } },
        },
      }),
    ).toMatchInlineSnapshot(`
      [
        "timezone: unknown time zone "Mars/Olympus"; use an IANA name such as "Europe/Berlin" or "UTC"",
        "beatSchedule.nightly.schedule.crontab.hour: 25 is out of range 0-23",
        "beatSchedule.typo.schedule.crontb: unknown key "crontb"; did you mean "crontab"?",
        "beatSchedule.missing.task: task is required: the registered name of a Celery task, such as "proj.tasks.add"",
        "beatSchedule.bad.schedule: an interval must be between 0.1 s and 100 years (3,155,760,000 s), got -3",
        "beatSchedule.bad.args: args must be an array",
        "beatSchedule.line.schedule.cron: can never run: February has no day 30",
      ]
    `);
  });

  it('rejects unknown keys with a did-you-mean hint', () => {
    expect(problemsOf({ timezon: 'UTC', beatSchedule: { a: { task: 't', schedule: 1, option: {} } } })).toMatchInlineSnapshot(`
      [
        "beatSchedule.a.option: unknown key "option"; did you mean "options"?",
        "timezon: unknown key "timezon"; did you mean "timezone"?",
      ]
    `);
  });

  it('refuses a setting given in both spellings', () => {
    expect(problemsOf({ beatSchedule: {}, beat_schedule: {} })).toMatchInlineSnapshot(`
      [
        "beat_schedule: "beat_schedule" and "beatSchedule" are the same setting; give only one",
      ]
    `);
  });

  it('refuses unknown option keys instead of dropping them', () => {
    expect(problemsOf({ beatSchedule: { a: { task: 't', schedule: 1, options: { queue: 'q', retry: true, prority: 3 } } } }))
      .toMatchInlineSnapshot(`
      [
        "beatSchedule.a.options.retry: unknown key "retry"; allowed keys: queue, exchange, exchangeType, routingKey, priority, expires, countdown, headers, timeLimit, softTimeLimit, ignoreResult, shadow, deliveryMode, messageGroupId",
        "beatSchedule.a.options.prority: unknown key "prority"; did you mean "priority"?",
      ]
    `);
  });

  it('refuses task arguments that kombu would decode as typed values it does not know, and non-JSON values', () => {
    expect(
      problemsOf({
        beatSchedule: {
          a: { task: 't', schedule: 1, kwargs: { when: { __type__: 'set', __value__: '2026-01-01' } } },
          ok: { task: 't', schedule: 1, kwargs: { when: { __type__: 'datetime', __value__: '2026-01-01T00:00:00' } } },
          b: { task: 't', schedule: 1, args: [1, [Number.NaN]] },
          c: { task: 't', schedule: 1, args: [2 ** 60] },
          d: { task: 't', schedule: 1, args: [new Date(0)] },
        },
      }),
    ).toMatchInlineSnapshot(`
      [
        "beatSchedule.a.kwargs.when: an object with exactly the keys "__type__" and "__value__" is decoded by kombu >= 5.3 as a typed value, and "set" is not one it knows (datetime, date, time, decimal, uuid, bytes, base64): it fails on the worker; rename or add a key",
        "beatSchedule.b.args[1][0]: NaN is not a JSON number (JSON has no NaN or Infinity)",
        "beatSchedule.c.args[0]: 1152921504606847000 is beyond 2^53 and would not arrive exactly; pass it as a string",
        "beatSchedule.d.args[0]: a Date is not a JSON value; use a string, number, boolean, null, array or plain object",
      ]
    `);
  });

  it('checks schedule forms: exactly one form, positive intervals, real dates, valid routes', () => {
    expect(
      problemsOf({
        beatSchedule: {
          two: { task: 't', schedule: { cron: '* * * * *', timedelta: { seconds: 1 } } },
          none: { task: 't', schedule: {} },
          zero: { task: 't', schedule: { timedelta: { seconds: 0 } } },
          feb30: { task: 't', schedule: { clocked: '2027-02-30T10:00:00Z' } },
          str: { task: 't', schedule: 'every 5 minutes' },
          sun: { task: 't', schedule: { solar: { event: 'noon', lat: 100, lon: 0 } } },
        },
        taskRoutes: { '/[unclosed/': 'q' },
      }),
    ).toMatchInlineSnapshot(`
      [
        "beatSchedule.two.schedule: give only one of timedelta, cron; a schedule has exactly one form",
        "beatSchedule.none.schedule: give one of: timedelta, crontab, cron, solar, clocked, rrule",
        "beatSchedule.zero.schedule.timedelta: an interval must be between 0.1 s and 100 years (3,155,760,000 s), got 0 s in all",
        "beatSchedule.feb30.schedule.clocked: "2027-02-30T10:00:00Z" is not a real date and time",
        "beatSchedule.str.schedule: expected a number of seconds, an object with one of: timedelta, crontab, cron, solar, clocked, rrule, or a list of them",
        "beatSchedule.sun.schedule.solar.event: expected one of dawn_astronomical, dawn_nautical, dawn_civil, sunrise, solar_noon, sunset, dusk_civil, dusk_nautical, dusk_astronomical",
        "beatSchedule.sun.schedule.solar.lat: latitude must be within -90..90",
        "taskRoutes["/[unclosed/"]: not a valid regular expression: /[unclosed/: Unterminated character class",
      ]
    `);
  });
});

describe('configEntryNamed', () => {
  it("finds a config's entry by name, the first of a name as a scan would, and each config its own", () => {
    const config = parseConfig({ beatSchedule: { a: { task: 't.a', schedule: 5 }, b: { task: 't.b', schedule: 6 } } }, 'test');
    expect(configEntryNamed(config, 'b')?.task).toBe('t.b');
    expect(configEntryNamed(config, 'a')?.task).toBe('t.a');
    expect(configEntryNamed(config, 'c')).toBeUndefined();
    const [first, second] = config.entries;
    const twice = { ...config, entries: [second!, { ...first!, name: 'b' }] };
    expect(configEntryNamed(twice, 'b')).toBe(second);
    expect(configEntryNamed(twice, 'a')).toBeUndefined();
    // The first config's index is its own.
    expect(configEntryNamed(config, 'a')).toBe(first);
  });
});

describe('config files', () => {
  it('reports YAML problems with their line numbers', async () => {
    const path = join(dir, 'lines.yaml');
    writeFileSync(
      path,
      ['beatSchedule:', '  nightly:', '    task: ops.backup', '    schedule:', '      crontab: { hour: 25 }', ''].join('\n'),
    );
    await expect(loadConfig({ explicit: path, cwd: dir })).rejects.toThrow(
      'lines.yaml: 1 problem\n  beatSchedule.nightly.schedule.crontab.hour (line 5): 25 is out of range 0-23',
    );
  });

  it('reports YAML syntax errors and duplicate keys without a stack trace', async () => {
    const path = join(dir, 'dup.yaml');
    writeFileSync(path, 'beatSchedule:\n  a: { task: t, schedule: 1 }\n  a: { task: u, schedule: 2 }\n');
    await expect(loadConfig({ explicit: path, cwd: dir })).rejects.toThrow(
      /dup\.yaml: 1 problem\n {2}\(top level\) \(line 3\): YAML syntax: Map keys must be unique/,
    );
  });

  it('reports a large integer that YAML cannot keep exactly', async () => {
    const path = join(dir, 'big.yaml');
    writeFileSync(path, 'beatSchedule:\n  a: { task: t, schedule: 1, args: [9007199254740993] }\n');
    await expect(loadConfig({ explicit: path, cwd: dir })).rejects.toThrow(
      'beatSchedule.a.args[0] (line 2): 9007199254740993 is beyond 2^53 and would not arrive exactly; pass it as a string',
    );
  });

  it('reports JSON syntax errors', async () => {
    const path = join(dir, 'bad.json');
    writeFileSync(path, '{"beatSchedule": {');
    await expect(loadConfig({ explicit: path, cwd: dir })).rejects.toThrow(/bad\.json: 1 problem\n {2}\(top level\): JSON syntax: /);
  });

  it('loads a TypeScript config without a build step, and reports one that throws', async () => {
    const good = join(dir, 'beat.config.ts');
    writeFileSync(good, "const minutes: number = 5;\nexport default { beatSchedule: { a: { task: 't', schedule: minutes * 60 } } };\n");
    const loaded = await loadConfig({ cwd: dir, env: {} });
    expect(loaded.path).toBe(good);
    expect(loaded.config.entries[0]?.schedule).toEqual({ kind: 'interval', everyMs: 300_000, relative: false });

    const bad = join(dir, 'throws.mts');
    writeFileSync(bad, "throw new Error('no secrets here');\n");
    await expect(loadConfig({ explicit: bad, cwd: dir })).rejects.toThrow('throws.mts: the module failed to load: no secrets here');
  });

  it('finds the config from BEAT_CONFIG, and names what it looked for when there is none', () => {
    const path = join(dir, 'env.json');
    writeFileSync(path, '{}');
    expect(findConfigFile({ cwd: dir, env: { BEAT_CONFIG: 'env.json' } })).toBe(path);
    expect(() => findConfigFile({ cwd: dir, env: { BEAT_CONFIG: 'nope.yaml' } })).toThrow('BEAT_CONFIG nope.yaml: no such file');
    const empty = mkdtempSync(join(tmpdir(), 'tsbeat-empty-'));
    try {
      expect(() => findConfigFile({ cwd: empty, env: {} })).toThrow(
        `no config file found: looked for beat.config.{ts,mts,js,mjs,json,yaml,yml} in ${empty} or ${empty}/schedules. Pass --config PATH or set BEAT_CONFIG.`,
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
