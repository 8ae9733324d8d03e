/**
 * RedBeat's typed JSON and schedules, against RedBeat's own encoder and decoder (as copied from its
 * source in test/support/redbeat_client.py) and the fires Celery and dateutil compute
 * (test/support/redbeat_vectors.py): the datetimes tsbeat reads and writes, and the interval,
 * crontab and rrule schedules it maps, with the same next fires.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ConfigError } from '../../src/base/errors.js';
import { parseConfig } from '../../src/config/load.js';
import { resolveEntry } from '../../src/config/resolve.js';
import { nextFires } from '../../src/core/schedule.js';
import { mapRedBeatDefinition, sourcedRedBeatEntry } from '../../src/redbeat/definition.js';
import { redbeatKeys } from '../../src/redbeat/keys.js';
import { seedOf } from '../../src/redbeat/source.js';
import { decodeDatetime, encodeDatetime, pythonJson } from '../../src/redbeat/typed-json.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../support/redbeat_vectors.py', import.meta.url));

interface Vectors {
  after: number;
  datetimes: { json: unknown; epoch: number }[];
  schedules: { json: Record<string, unknown>; fires: number[] }[];
  decoded: number[];
}

/** Instants tsbeat encodes, for Python to decode. */
const ENCODED_MS = [0, 1767603600123, 1774747800000, 1792888200999, 253402300799000];
let vectors: Vectors;

beforeAll(() => {
  const texts = ENCODED_MS.map((ms) => pythonJson(encodeDatetime(ms)));
  const run = spawnSync(PYTHON, [SCRIPT], {
    input: JSON.stringify(texts),
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: fileURLToPath(new URL('../support/', import.meta.url)) },
  });
  if (run.status !== 0) throw new Error(`${SCRIPT} failed (needs python3-celery, python3-redis, python3-dateutil): ${run.stderr}`);
  vectors = JSON.parse(run.stdout) as Vectors;
});

describe("RedBeat's typed JSON", () => {
  it("reads RedBeat's datetimes as its decoder does: zone names (DST gap and overlap), fixed offsets, UTC", () => {
    expect(vectors.datetimes.length).toBeGreaterThan(5);
    for (const { json, epoch } of vectors.datetimes) expect(decodeDatetime(json), JSON.stringify(json)).toBe(Math.round(epoch * 1000));
  });

  it("writes datetimes that RedBeat's decoder reads back as the same instant", () => {
    expect(vectors.decoded.map((s) => Math.round(s * 1000))).toEqual(ENCODED_MS);
  });

  it('reads the last run and count of a meta, and nothing of a meta that never ran', () => {
    const meta = pythonJson({ last_run_at: encodeDatetime(1767603600000), total_run_count: 7 });
    expect(seedOf('a', meta)).toEqual({ name: 'a', lastRunMs: 1767603600000, runCount: 7 });
    expect(seedOf('a', '{"last_run_at": null}')).toBeUndefined();
    expect(seedOf('a', null)).toBeUndefined();
  });
});

describe("RedBeat's schedules mapped to tsbeat's", () => {
  it('fires crontab and rrule entries when Celery and dateutil fire them', () => {
    expect(vectors.schedules.length).toBeGreaterThan(5);
    for (const { json, fires } of vectors.schedules) {
      const sourced = sourcedRedBeatEntry(
        'x',
        JSON.stringify({ name: 'x', task: 't', schedule: json, args: null, kwargs: null, options: null }),
      );
      expect(sourced.problems, JSON.stringify(json)).toBeUndefined();
      const entry = resolveEntry('x', sourced.entry!, { zone: 'UTC', deployment: 'default' }, 'redbeat');
      const ours = nextFires(entry.schedule, { zone: entry.timezone, afterMs: vectors.after * 1000 }, fires.length);
      expect(ours, JSON.stringify(json)).toEqual(fires.map((s) => Math.round(s * 1000)));
    }
  });

  it('maps an interval with relative, args, kwargs, options (a datetime expires) and enabled', () => {
    const mapped = mapRedBeatDefinition({
      name: 'n',
      task: 'proj.add',
      schedule: { __type__: 'interval', every: 90.0, relative: true },
      args: [1, 'a'],
      kwargs: { k: [1] },
      options: {
        queue: 'q',
        routing_key: 'rk',
        priority: 5,
        expires: { __type__: 'datetime', year: 2027, month: 1, day: 1, hour: 0, minute: 0, second: 0, microsecond: 0, timezone: 'UTC' },
      },
      enabled: false,
    });
    expect(mapped).toEqual({
      entry: {
        task: 'proj.add',
        schedule: 90,
        relative: true,
        args: [1, 'a'],
        kwargs: { k: [1] },
        options: { queue: 'q', routing_key: 'rk', priority: 5, expires: '2027-01-01T00:00:00.000Z' },
        enabled: false,
      },
      problems: [],
    });
    const sourced = sourcedRedBeatEntry(
      'n',
      JSON.stringify({ task: 'proj.add', schedule: { __type__: 'interval', every: 90.0, relative: true } }),
    );
    expect(sourced.entry).toMatchObject({ enabled: true, relative: true, schedule: { kind: 'interval', everyMs: 90_000 } });
  });

  it('an entry whose name breaks the entry-name rule is shown with its problem and not run', () => {
    const text = JSON.stringify({ task: 'proj.add', schedule: { __type__: 'interval', every: 90.0, relative: false } });
    for (const name of ['esc\u001b[31m', 'c1\u0085', 'rtl\u202Etxt.exe', '']) {
      const sourced = sourcedRedBeatEntry(name, text);
      expect(sourced.entry, JSON.stringify(name)).toBeUndefined();
      expect(sourced.problems?.[0]).toMatchObject({ path: 'name', message: expect.stringContaining('RedBeatSchedulerEntry') });
    }
    expect(sourcedRedBeatEntry('add every 90 s', text).entry).toBeDefined();
  });

  it('names what it cannot express, with its path, rather than dropping it', () => {
    const problems = (definition: Record<string, unknown>) =>
      (sourcedRedBeatEntry('x', JSON.stringify({ task: 't', ...definition })).problems ?? []).map((p) => `${p.path}: ${p.message}`);
    expect(problems({ schedule: { __type__: 'solar', event: 'sunset' } })).toEqual([
      expect.stringMatching(/^schedule: RedBeat schedule type "solar"/),
    ]);
    expect(problems({ schedule: { __type__: 'rrule', freq: 3, dtstart: 1767603600, dtstart_tz: 330 } })).toEqual([
      expect.stringMatching(/^schedule\.rrule\.dtstart_tz: .*330 minutes/),
    ]);
    expect(problems({ schedule: { __type__: 'rrule', freq: 0, dtstart: 1767603600, byeaster: 0 } })).toEqual([
      expect.stringMatching(/^schedule\.rrule\.byeaster:/),
    ]);
    expect(
      problems({
        schedule: { __type__: 'interval', every: 60, relative: false },
        args: [{ __type__: 'datetime', year: 2026, month: 1, day: 1 }],
      }),
    ).toEqual([expect.stringMatching(/^args\[0\]: a RedBeat datetime value/)]);
    expect(problems({ schedule: { __type__: 'interval', every: 60, relative: false }, options: { eta: 5 } })[0]).toMatch(/^options/);
    expect(sourcedRedBeatEntry('x', 'not json').problems?.[0]?.message).toMatch(/not JSON/);
  });
});

describe("RedBeat's keys", () => {
  it('are named as RedBeat names them, the lock key put under the prefix as RedBeat does', () => {
    const keys = redbeatKeys('redbeat:');
    expect([keys.entry('a'), keys.schedule, keys.statics, keys.lock]).toEqual([
      'redbeat:a',
      'redbeat::schedule',
      'redbeat::statics',
      'redbeat::lock',
    ]);
    expect(redbeatKeys('rb:', 'beat-lock').lock).toBe('rb:beat-lock');
    expect(redbeatKeys('rb:', 'rb:own').lock).toBe('rb:own');
    expect(keys.nameOf('redbeat:a:b')).toBe('a:b');
    expect(keys.nameOf('other:a')).toBeUndefined();
  });
});

describe('sources.redbeat in the config', () => {
  it("defaults the prefix to RedBeat's, and checks the URL as beat run will use it", () => {
    expect(parseConfig({ sources: { redbeat: {} } }, 't').sources.redbeat).toEqual({
      url: undefined,
      keyPrefix: 'redbeat:',
      lockKey: undefined,
    });
    expect(parseConfig({}, 't').sources.redbeat).toBeUndefined();
    const problemsOf = (input: Record<string, unknown>) => {
      try {
        parseConfig(input, 't');
        return [];
      } catch (error) {
        return (error as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
      }
    };
    expect(problemsOf({ sources: { redbeat: { url: 'http://x' } } })).toEqual([
      expect.stringMatching(/^sources\.redbeat\.url: .*unsupported scheme/),
    ]);
    expect(problemsOf({ broker: { url: 'amqp://guest:guest@127.0.0.1:5672//' }, sources: { redbeat: { key_prefix: 'rb:' } } })).toEqual([
      expect.stringMatching(/^sources\.redbeat\.url: with an AMQP broker/),
    ]);
    const amqp = parseConfig(
      { broker: { url: 'amqp://127.0.0.1//' }, sources: { redbeat: { url: 'redis://h:6379/2', key_prefix: 'rb:' } } },
      't',
    );
    expect(amqp.sources.redbeat).toEqual({ url: 'redis://h:6379/2', keyPrefix: 'rb:', lockKey: undefined });
  });
});
