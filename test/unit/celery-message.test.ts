import { describe, expect, it } from 'vitest';
import { compileMessageTemplate, makeOrigin, renderTaskMessage } from '../../src/celery/message.js';
import { MessageShapes } from '../../src/celery/message-shape.js';
import { redisEnvelope } from '../../src/kombu/redis-envelope.js';
import type { TaskMessage } from '../../src/celery/message.js';
import { randomTaskId, slotTaskId, uuidV5 } from '../../src/celery/task-id.js';
import { isoFromMicros, isoFromMillis } from '../../src/celery/time.js';
import { optionsSchema } from '../../src/config/options-schema.js';
import { BeatError, ErrorCode } from '../../src/base/errors.js';
import { ENV, config, entry } from '../support/messages.js';

const NOW = Date.UTC(2026, 10, 21, 5, 32, 51, 392); // 2026-11-21T05:32:51.392Z
const SLOT = Date.UTC(2026, 10, 21, 5, 32, 0, 0);
const ID = '694bcd2a-0000-4000-8000-3048d0d0e8d0';
const ISO_FORMAT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$/;

const headersOf = (m: TaskMessage): Record<string, unknown> => JSON.parse(m.headersJson) as Record<string, unknown>;

function render(e = entry(), c = config(), input: { taskId?: string; slotMs?: number; nowMs?: number } = {}): TaskMessage {
  return renderTaskMessage(compileMessageTemplate(e, c, ENV), {
    taskId: input.taskId ?? ID,
    slotMs: input.slotMs ?? SLOT,
    nowMs: input.nowMs ?? NOW,
  });
}

describe('protocol v2 message', () => {
  it('carries the full Celery 5.3+ header set in as_task_v2 order, then beat_entry, beat_scheduled_at, periodic_task_name and traceparent', () => {
    const m = render();
    expect(headersOf(m)).toEqual({
      lang: 'py',
      task: 'proj.add',
      id: ID,
      shadow: null,
      eta: null,
      expires: null,
      group: null,
      group_index: null,
      retries: 0,
      timelimit: [null, null],
      root_id: ID,
      parent_id: null,
      argsrepr: '[2, 3]',
      kwargsrepr: '{}',
      origin: 'gen4242@testhost',
      ignore_result: false,
      replaced_task_nesting: 0,
      stamped_headers: null,
      stamps: {},
      beat_entry: 'add-every-minute',
      beat_scheduled_at: '2026-11-21T05:32:00.000000+00:00',
      periodic_task_name: 'add-every-minute',
      traceparent: `00-${ID.replace(/-/g, '')}-${ID.replace(/-/g, '').slice(16)}-01`,
    });
    expect(Object.keys(headersOf(m))).toEqual([
      'lang',
      'task',
      'id',
      'shadow',
      'eta',
      'expires',
      'group',
      'group_index',
      'retries',
      'timelimit',
      'root_id',
      'parent_id',
      'argsrepr',
      'kwargsrepr',
      'origin',
      'ignore_result',
      'replaced_task_nesting',
      'stamped_headers',
      'stamps',
      'beat_entry',
      'beat_scheduled_at',
      'periodic_task_name',
      'traceparent',
    ]);
  });

  it('has the body [args, kwargs, embed] with embed keys in Celery order, and its base64 computed once', () => {
    const m = render(entry({ args: [2, 3], kwargs: { z: 1, a: 'b' } }));
    expect(JSON.parse(m.body)).toEqual([[2, 3], { z: 1, a: 'b' }, { callbacks: null, errbacks: null, chain: null, chord: null }]);
    expect(m.body.indexOf('"callbacks"')).toBeLessThan(m.body.indexOf('"chord"'));
    expect(m.bodyBase64).toBe(Buffer.from(m.body, 'utf8').toString('base64'));
    expect([m.contentType, m.contentEncoding]).toEqual(['application/json', 'utf-8']);
  });

  it('keeps integers near 2^53 and unicode exact in the body', () => {
    const m = render(entry({ args: [9007199254740991, -9007199254740991, 'wörld ☃ 😀'], kwargs: { ключ: 'значение' } }));
    expect(m.body).toContain('9007199254740991,-9007199254740991,"wörld ☃ 😀"');
    expect(JSON.parse(m.body)).toEqual([[9007199254740991, -9007199254740991, 'wörld ☃ 😀'], { ключ: 'значение' }, expect.any(Object)]);
  });

  it('writes a BigInt from a JS/TS config (within 2^53) as a plain JSON number, in the body and in argsrepr', () => {
    const m = render(entry({ args: [BigInt(42), { n: BigInt(-7) }] }));
    expect(m.body.startsWith('[[42,{"n":-7}],')).toBe(true);
    expect(headersOf(m)['argsrepr']).toBe("[42, {'n': -7}]");
  });

  it('writes empty args as [] in the body but () in argsrepr, as beat does', () => {
    const m = render(entry({ args: [], kwargs: {} }));
    expect(JSON.parse(m.body)).toEqual([[], {}, expect.any(Object)]);
    expect(headersOf(m)).toMatchObject({ argsrepr: '()', kwargsrepr: '{}' });
  });

  it('sets the properties beat sets: correlation_id = id, reply_to, delivery_mode 2, priority 0, no expiration', () => {
    expect(render().properties).toEqual({
      correlation_id: ID,
      reply_to: ENV.replyTo,
      periodic_task_name: 'add-every-minute',
      delivery_mode: 2,
      priority: 0,
    });
  });

  it('turns a numeric expires into an absolute header from publish time and an expiration in ms', () => {
    const m = render(entry({ options: { expires: 30 } }));
    expect(headersOf(m)['expires']).toBe('2026-11-21T05:33:21.392000+00:00');
    expect(m.properties.expiration).toBe('30000');
  });

  it('keeps sub-millisecond parts of a fractional expires and truncates the expiration like int()', () => {
    const m = render(entry({ options: { expires: 0.0015 } }));
    expect(headersOf(m)['expires']).toBe('2026-11-21T05:32:51.393500+00:00');
    expect(m.properties.expiration).toBe('1');
  });

  it('passes an ISO expires through as given and derives expiration from the time left', () => {
    const m = render(entry({ options: { expires: '2026-11-21T05:33:51.392+00:00' } }));
    expect(headersOf(m)['expires']).toBe('2026-11-21T05:33:51.392+00:00');
    expect(m.properties.expiration).toBe('60000');
  });

  it('gives an ISO expires that has already passed the expiration "0", not a negative TTL', () => {
    const m = render(entry({ options: { expires: '2000-01-01T00:00:00' } }));
    expect(headersOf(m)['expires']).toBe('2000-01-01T00:00:00');
    expect(m.properties.expiration).toBe('0');
  });

  it('turns countdown into an eta from publish time', () => {
    expect(headersOf(render(entry({ options: { countdown: 10 } })))['eta']).toBe('2026-11-21T05:33:01.392000+00:00');
  });

  it('orders timelimit [hard, soft] (the worker unpacks it so; the protocol docs have it backwards)', () => {
    expect(headersOf(render(entry({ options: { timeLimit: 20, softTimeLimit: 10 } })))['timelimit']).toEqual([20, 10]);
    expect(headersOf(render(entry({ options: { softTimeLimit: 10 } })))['timelimit']).toEqual([null, 10]);
  });

  it('merges custom headers at the top level; a standard key keeps its place, as dict.update does', () => {
    const m = render(entry({ options: { headers: { 'x-custom': 'v', retries: 3, nested: { a: [1] } } } }));
    const keys = Object.keys(headersOf(m));
    expect(headersOf(m)).toMatchObject({ 'x-custom': 'v', retries: 3, nested: { a: [1] } });
    expect(keys.indexOf('retries')).toBe(8);
    expect(keys.slice(-2)).toEqual(['x-custom', 'nested']);
    expect(m.headersJson.match(/"retries"/g)).toHaveLength(1);
  });

  it('writes ignore_result, shadow, priority and a transient delivery mode where Celery puts them', () => {
    const m = render(entry({ options: { ignoreResult: true, shadow: 'nicer-name', priority: 7, deliveryMode: 'transient' } }));
    expect(headersOf(m)).toMatchObject({ ignore_result: true, shadow: 'nicer-name' });
    expect(m.properties).toMatchObject({ priority: 7, delivery_mode: 1 });
  });

  it('renders each run with its own id and times but the same constant parts', () => {
    const template = compileMessageTemplate(entry({ options: { expires: 5 } }), config(), ENV);
    const a = renderTaskMessage(template, { taskId: slotTaskId('myapp', 'e', SLOT), slotMs: SLOT, nowMs: NOW });
    const b = renderTaskMessage(template, { taskId: slotTaskId('myapp', 'e', SLOT + 60_000), slotMs: SLOT + 60_000, nowMs: NOW + 60_000 });
    expect(a.id).not.toBe(b.id);
    expect(a.body).toBe(b.body);
    const strip = (m: TaskMessage) => ({ ...headersOf(m), id: 0, root_id: 0, expires: 0, beat_scheduled_at: 0, traceparent: 0 });
    expect(strip(a)).toEqual(strip(b));
    // W3C trace-context: version 00, a 32-hex trace id and a 16-hex parent id, neither all zeros, flags.
    const w3c = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-0[01]$/;
    const [ta, tb] = [headersOf(a)['traceparent'], headersOf(b)['traceparent']];
    expect(ta).toMatch(w3c);
    expect(tb).toMatch(w3c);
    expect(ta).not.toBe(tb);
    expect(headersOf(b)).toMatchObject({ id: b.id, root_id: b.id, beat_scheduled_at: '2026-11-21T05:33:00.000000+00:00' });
  });
});

describe('traceparent', () => {
  it("of a lowercase UUID is its 32 hex digits and their last 16, for every id (random and the slots')", () => {
    const template = compileMessageTemplate(entry(), config(), ENV);
    const ids = [
      ...Array.from({ length: 200 }, () => randomTaskId()),
      ...Array.from({ length: 200 }, (_, i) => slotTaskId('myapp', `e${i}`, SLOT)),
    ];
    for (const taskId of ids) {
      const hex = taskId.replace(/-/g, '');
      expect(headersOf(renderTaskMessage(template, { taskId, slotMs: SLOT, nowMs: NOW }))['traceparent']).toBe(
        `00-${hex}-${hex.slice(16)}-01`,
      );
    }
  });

  it("beat_scheduled_at follows each run's slot when slots alternate (the last one is remembered)", () => {
    const template = compileMessageTemplate(entry(), config(), ENV);
    for (const [slotMs, iso] of [
      [SLOT, '2026-11-21T05:32:00.000000+00:00'],
      [SLOT + 60_000, '2026-11-21T05:33:00.000000+00:00'],
      [SLOT, '2026-11-21T05:32:00.000000+00:00'],
    ] as const)
      expect(headersOf(renderTaskMessage(template, { taskId: ID, slotMs, nowMs: NOW }))['beat_scheduled_at']).toBe(iso);
  });

  it('derives a valid W3C trace id from an id that is not a lowercase UUID, the same each time', () => {
    const w3c = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-01$/;
    for (const taskId of ['my-own-id', ID.toUpperCase(), '00000000-0000-0000-0000-000000000000']) {
      const tp = headersOf(render(entry(), config(), { taskId }))['traceparent'];
      expect(tp).toMatch(w3c);
      expect(headersOf(render(entry(), config(), { taskId }))['traceparent']).toBe(tp);
    }
  });
});

describe('protocol v1 message (taskProtocol: 1)', () => {
  it('puts everything in a body object in as_task_v1 order and leaves only custom headers', () => {
    const m = render(entry({ options: { expires: 30, timeLimit: 9, headers: { 'x-custom': 'v' } } }), config({ taskProtocol: 1 }));
    expect(headersOf(m)).toEqual({
      beat_entry: 'add-every-minute',
      beat_scheduled_at: '2026-11-21T05:32:00.000000+00:00',
      periodic_task_name: 'add-every-minute',
      traceparent: `00-${ID.replace(/-/g, '')}-${ID.replace(/-/g, '').slice(16)}-01`,
      'x-custom': 'v',
    });
    const body = JSON.parse(m.body) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual([
      'task',
      'id',
      'args',
      'kwargs',
      'group',
      'group_index',
      'retries',
      'eta',
      'expires',
      'utc',
      'callbacks',
      'errbacks',
      'timelimit',
      'taskset',
      'chord',
    ]);
    expect(body).toMatchObject({
      task: 'proj.add',
      id: ID,
      args: [2, 3],
      kwargs: {},
      eta: null,
      expires: '2026-11-21T05:33:21.392000+00:00',
      utc: true,
      timelimit: [9, null],
    });
    expect(m.bodyBase64).toBeUndefined();
    expect(m.properties).toMatchObject({ correlation_id: ID, expiration: '30000' });
  });
});

describe('times', () => {
  it('always has six fraction digits and +00:00, never Z (Celery 5.3.0–5.3.4 on Python ≤ 3.10 rejects Z)', () => {
    expect(isoFromMillis(Date.UTC(2026, 0, 1))).toBe('2026-01-01T00:00:00.000000+00:00');
    expect(isoFromMicros(Date.UTC(2026, 0, 1) * 1000 + 7)).toBe('2026-01-01T00:00:00.000007+00:00');
    expect(isoFromMicros(Date.UTC(2026, 0, 1) * 1000 - 1)).toBe('2025-12-31T23:59:59.999999+00:00');
    expect(isoFromMillis(NOW)).toMatch(ISO_FORMAT);
  });
});

describe('task ids', () => {
  it('derives the same id for the same deployment, entry and slot, so a slot published twice is recognisable', () => {
    expect(slotTaskId('myapp', 'nightly', 1795230000000)).toBe(slotTaskId('myapp', 'nightly', 1795230000000));
    expect(slotTaskId('myapp', 'nightly', 1795230000000)).not.toBe(slotTaskId('myapp', 'nightly', 1795230060000));
    expect(slotTaskId('myapp', 'nightly', 1795230000000)).not.toBe(slotTaskId('myapp', 'nightly2', 1795230000000));
  });

  it('gives two deployments sharing a broker different ids for their same-named entries at the same slot', () => {
    expect(slotTaskId('myapp', 'nightly', 1795230000000)).not.toBe(slotTaskId('other', 'nightly', 1795230000000));
    // The split is unambiguous: moving text between deployment and entry name changes the id.
    expect(slotTaskId('a', 'b.c', 0)).not.toBe(slotTaskId('a.b', 'c', 0));
  });

  it("matches Python's uuid.uuid5 over the documented namespace and name", () => {
    // uuid.uuid5(uuid.UUID('bd3166c1-dfde-4cc5-a1f7-98fa3cc11ff8'), f"{deployment}\n{name}\n{slot_ms}"), by /usr/bin/python3
    expect(slotTaskId('myapp', 'nightly', 1795230000000)).toBe('25e6e8a7-81cb-5125-aa3e-f68f869168a6');
    expect(slotTaskId('myapp', 'nightly', 1795230060000)).toBe('bb539e48-f95e-5157-9dcf-04446ed07926');
    expect(slotTaskId('myapp', 'wörld ☃ entry', 0)).toBe('191ae2e7-b5ed-541b-a4f2-a23324df42d7');
    expect(slotTaskId('other', 'nightly', 1795230000000)).toBe('b2350884-08fb-56c8-9782-a78e8e228c47');
    // RFC 4122's example, as Python computes it.
    expect(uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'python.org')).toBe('886313e1-3b8a-5372-9b90-0c9aee199e5d');
  });

  it('gives a manual trigger a fresh random uuid4 each time', () => {
    const a = randomTaskId();
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(randomTaskId()).not.toBe(a);
  });

  it('writes the origin as Celery anon_nodename does', () => {
    expect(makeOrigin(13525, 'vm')).toBe('gen13525@vm');
  });
});

describe('refusals', () => {
  it('refuses unknown option keys at validation instead of dropping them', () => {
    const result = optionsSchema.safeParse({ expires: 5, expire: 5 });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe('unknown key "expire"; did you mean "expires"?');
  });

  it('accepts the snake_case spellings of a Python celeryconfig', () => {
    expect(optionsSchema.parse({ time_limit: 5, soft_time_limit: 4, ignore_result: true })).toEqual({
      timeLimit: 5,
      softTimeLimit: 4,
      ignoreResult: true,
    });
  });

  it('refuses kombu typed-JSON objects in custom headers at validation (kombu >= 5.3 decodes headers too)', () => {
    const result = optionsSchema.safeParse({ headers: { x: { __type__: 'datetime', __value__: '2026-01-01' } } });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['headers', 'x']);
  });

  it.each([
    [
      'args of an unknown type',
      { args: [1, { __type__: 'set', __value__: [1] }] },
      'entry "add-every-minute": args.1: an object with exactly the keys "__type__" and "__value__" is decoded by kombu >= 5.3 as a typed value, and "set" is not one it knows',
    ],
    [
      'args of a malformed uuid',
      { args: [1, { __type__: 'uuid', __value__: 'x' }] },
      'entry "add-every-minute": args.1: a kombu uuid value must have "__value__": {"hex"',
    ],
    [
      'args of a uuid with a key kombu never writes (uuid.UUID takes one form only)',
      { args: [{ __type__: 'uuid', __value__: { hex: '6f1d3c0e8a2b4d5e9f7a1b2c3d4e5f60', node: 1 } }] },
      'entry "add-every-minute": args.0: a kombu uuid value must have "__value__": {"hex"',
    ],
    [
      'kwargs of a malformed datetime',
      { kwargs: { when: { __value__: 1, __type__: 'datetime' } } },
      'entry "add-every-minute": kwargs.when: a kombu datetime value must have a string "__value__"',
    ],
  ] as [string, Parameters<typeof entry>[0], string][])(
    'refuses a {__type__, __value__} object kombu cannot decode in raw %s handed to the publish-time API',
    (_what, fields, message) => {
      let caught: unknown;
      try {
        compileMessageTemplate(entry(fields), config(), ENV);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(BeatError);
      expect((caught as BeatError).code).toBe(ErrorCode.MessageInvalid);
      expect((caught as BeatError).message).toContain(message);
    },
  );

  it("passes kombu's typed values (as kombu.utils.json.dumps writes them) through to the body unchanged", () => {
    const typed = [
      { __type__: 'datetime', __value__: '2026-11-25T12:00:00+00:00' },
      { __type__: 'date', __value__: '2026-11-25' },
      { __type__: 'time', __value__: '12:00:00' },
      { __type__: 'decimal', __value__: '1.10' },
      { __type__: 'uuid', __value__: { hex: '6f1d3c0e8a2b4d5e9f7a1b2c3d4e5f60' } },
      // kombu 5.3's encoder adds the version (None outside RFC 4122's variant).
      { __type__: 'uuid', __value__: { hex: '6f1d3c0e8a2b4d5e9f7a1b2c3d4e5f60', version: 4 } },
      { __type__: 'uuid', __value__: { hex: '6f1d3c0e8a2b4d5e9f7a1b2c3d4e5f60', version: null } },
      { __type__: 'bytes', __value__: 'abc' },
      { __type__: 'base64', __value__: '/w==' },
    ];
    const body = JSON.parse(render(entry({ args: typed, kwargs: { when: typed[0] } })).body) as [unknown[], Record<string, unknown>];
    expect(body[0]).toEqual(typed);
    expect(body[1]).toEqual({ when: typed[0] });
  });

  it('refuses raw args that JSON cannot carry exactly (beyond 2^53)', () => {
    expect(() => compileMessageTemplate(entry({ args: [2 ** 53 + 2] }), config(), ENV)).toThrow(/beyond 2\^53/);
  });
});

describe('templates shared by shape', () => {
  const tenant = (i: number, fields: Parameters<typeof entry>[0] = {}) =>
    entry({
      name: `tenant-${i} ☃`,
      args: [i, `ü${i}`],
      kwargs: { who: `tenant ${i}` },
      options: { queue: 'reports', expires: 30 },
      ...fields,
    });

  it('gives entries that differ only in name, args and kwargs one shape, and each its own name, args and reprs', () => {
    for (const protocol of [1, 2] as const) {
      const c = config({ taskProtocol: protocol });
      const shapes = new MessageShapes(c, ENV);
      const [a, b] = [compileMessageTemplate(tenant(1), c, ENV, shapes), compileMessageTemplate(tenant(2), c, ENV, shapes)];
      expect(a.shape).toBe(b.shape);
      expect(shapes.size).toBe(1);
      for (const [i, template] of [
        [1, a],
        [2, b],
      ] as const) {
        const input = { taskId: ID, slotMs: SLOT, nowMs: NOW };
        const shared = renderTaskMessage(template, input);
        // The oracle: the same entry compiled on a shape of its own, as before shapes were shared.
        const alone = renderTaskMessage(compileMessageTemplate(tenant(i), c, ENV), input);
        expect(shared.headersJson).toBe(alone.headersJson);
        expect(shared.body).toBe(alone.body);
        expect(redisEnvelope(shared, '', 'reports', 'tag')).toBe(redisEnvelope(alone, '', 'reports', 'tag'));
        const envelope = JSON.parse(redisEnvelope(shared, '', 'reports', 'tag')) as Record<string, Record<string, unknown>>;
        expect(envelope['properties']).toMatchObject({ periodic_task_name: `tenant-${i} ☃` });
        const body = JSON.parse(shared.body) as unknown;
        if (protocol === 2) {
          expect(headersOf(shared)).toMatchObject({
            beat_entry: `tenant-${i} ☃`,
            periodic_task_name: `tenant-${i} ☃`,
            argsrepr: `[${i}, 'ü${i}']`,
            kwargsrepr: `{'who': 'tenant ${i}'}`,
          });
          expect(body).toEqual([[i, `ü${i}`], { who: `tenant ${i}` }, { callbacks: null, errbacks: null, chain: null, chord: null }]);
        } else {
          expect(headersOf(shared)).toMatchObject({ beat_entry: `tenant-${i} ☃` });
          expect(body).toMatchObject({ args: [i, `ü${i}`], kwargs: { who: `tenant ${i}` } });
        }
      }
    }
  });

  it('gives entries of another task, options or monitor a shape of their own, and keeps no shape that failed', () => {
    const c = config();
    const shapes = new MessageShapes(c, ENV);
    const base = compileMessageTemplate(tenant(1), c, ENV, shapes);
    expect(compileMessageTemplate(tenant(2, { task: 'proj.other' }), c, ENV, shapes).shape).not.toBe(base.shape);
    expect(compileMessageTemplate(tenant(3, { options: { queue: 'reports', expires: 31 } }), c, ENV, shapes).shape).not.toBe(base.shape);
    expect(
      compileMessageTemplate(tenant(4, { options: { queue: 'reports', expires: 30, headers: { x: 1 } } }), c, ENV, shapes).shape,
    ).not.toBe(base.shape);
    expect(shapes.size).toBe(4);
    // A bad shape names the entry it was compiled for, every time.
    // (Past the options schema, which refuses it: as a publish-time API caller could hand it over.)
    const bad = (i: number) => ({ ...tenant(i), options: { ...tenant(i).options, expires: 'soon' } });
    expect(() => compileMessageTemplate(bad(5), c, ENV, shapes)).toThrow(/entry "tenant-5 ☃": options.expires "soon"/);
    expect(() => compileMessageTemplate(bad(6), c, ENV, shapes)).toThrow(/entry "tenant-6 ☃": options.expires "soon"/);
    expect(shapes.size).toBe(4);
  });
});
