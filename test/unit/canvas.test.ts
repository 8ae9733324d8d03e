/**
 * A canvas entry's message against what Celery's own apply_async publishes for the same canvas
 * (test/fixtures/celery-canvas-5.2.json and -5.5.json, captured from the broker by
 * test/support/capture_canvas.py): message by message, every header, property and body value, the
 * ids mapped (Celery's are fresh uuids, ours derived from the run's), and the config's checks.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canvasOutcomeParts } from '../../src/celery/canvas.js';
import { compileMessageTemplate, messageOutcomeParts, renderTaskMessage, runMessages } from '../../src/celery/message.js';
import type { TaskMessage } from '../../src/celery/message.js';
import { parseEntryDefinition } from '../../src/config/entry-definition.js';
import { resolveEntry } from '../../src/config/resolve.js';
import { EntryShapes } from '../../src/config/entry-shapes.js';
import { parseConfig } from '../../src/config/load.js';
import { uuidV5 } from '../../src/celery/task-id.js';
import { amqpDelivery } from '../../src/amqp/message.js';
import { ENV, config } from '../support/messages.js';

interface Captured {
  readonly celery: string;
  readonly cases: Record<string, { result: string; messages: { list: string; envelope: Envelope }[]; backend?: Record<string, string> }>;
}
interface Envelope {
  body: [unknown[], Record<string, unknown>, { chain: { options: { task_id: string } }[] | null }];
  headers: Record<string, unknown>;
  properties: Record<string, unknown>;
}

const FIXTURES: Captured[] = ['5.2', '5.5'].map(
  (v) => JSON.parse(readFileSync(`test/fixtures/celery-canvas-${v}.json`, 'utf8')) as Captured,
);

/** The same canvases as capture_canvas.py builds, as entries (`t.*` are its task names). */
const ENTRIES: Record<string, unknown> = {
  chain3: {
    chain: [
      { task: 't.add', args: [1, 2] },
      { task: 't.mul', args: [10] },
      { task: 't.add', args: [5] },
    ],
  },
  'chain3-options': {
    chain: [
      { task: 't.add', args: [1, 2], options: { queue: 'q1' } },
      { task: 't.mul', args: [10], options: { priority: 3, countdown: 5 }, immutable: true },
      { task: 't.add', args: [5], options: { softTimeLimit: 7 } },
    ],
    args: [100],
    kwargs: { k: 1 },
    options: { queue: 'q0', expires: 60 },
  },
  'chain-links': {
    chain: [
      { task: 't.add', args: [1, 2], link: [{ task: 't.log', args: ['ok'] }] },
      { task: 't.mul', args: [10], link_error: [{ task: 't.onerr' }] },
    ],
    linkError: [{ task: 't.onerr_all' }],
  },
  'chain-group': {
    chain: [
      { task: 't.add', args: [1, 1] },
      {
        group: [
          { task: 't.add', args: [2, 2] },
          { task: 't.mul', args: [3] },
        ],
      },
    ],
  },
  'chain-chord': {
    chain: [
      { task: 't.add', args: [1, 1] },
      {
        chord: {
          header: [
            { task: 't.add', args: [2, 2] },
            { task: 't.add', args: [3, 3] },
          ],
          body: { task: 't.tsum' },
        },
      },
    ],
  },
  'chain-chord-chain-header': {
    chain: [
      { task: 't.add', args: [1, 1] },
      {
        chord: {
          header: [
            {
              chain: [
                { task: 't.add', args: [2, 2] },
                { task: 't.mul', args: [3] },
              ],
            },
            { task: 't.add', args: [4, 4] },
          ],
          body: { task: 't.tsum' },
        },
      },
    ],
  },
  'chain-chord-middle': {
    chain: [
      { task: 't.add', args: [1, 1] },
      {
        chord: {
          header: [
            { task: 't.add', args: [2, 2] },
            { task: 't.add', args: [3, 3] },
          ],
          body: { task: 't.tsum' },
        },
      },
      { task: 't.mul', args: [2] },
    ],
  },
  // A group followed by a signature: Celery's chain makes the two a chord.
  'chain-group-middle': {
    chain: [
      { task: 't.add', args: [1, 1] },
      {
        group: [
          { task: 't.add', args: [2, 2] },
          { task: 't.mul', args: [3] },
        ],
      },
      { task: 't.tsum' },
      { task: 't.mul', args: [2] },
    ],
  },
  link: {
    task: 't.add',
    args: [1, 2],
    link: [{ task: 't.log', args: ['a'] }],
    linkError: [{ task: 't.onerr', kwargs: { x: 1 }, options: { queue: 'errors' } }],
  },
};

const RUN_ID = uuidV5('bd3166c1-dfde-4cc5-a1f7-98fa3cc11ff8', 'canvas-test');

function render(name: string): TaskMessage {
  const parsed = parseEntryDefinition({ schedule: 60, ...(ENTRIES[name] as object) });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  const entry = resolveEntry(name, parsed.entry, { zone: 'UTC', deployment: 'default' });
  return renderTaskMessage(compileMessageTemplate(entry, config(), ENV), {
    taskId: RUN_ID,
    slotMs: 0,
    nowMs: Date.parse('2026-11-25T06:00:00Z'),
  });
}

/** Every id of a message, in a fixed order: its own, then every `task_id` in its body (keys sorted). */
function ids(e: Envelope): string[] {
  const found: string[] = [e.headers.id as string];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') {
      for (const key of Object.keys(v).sort()) {
        const value = (v as Record<string, unknown>)[key];
        if (key === 'task_id' && typeof value === 'string') found.push(value);
        else walk(value);
      }
    }
  };
  walk(e.body);
  return found;
}

/** Celery 5.2 writes a frozen chain's options as {}, 5.5 as {task_id: None} (we write 5.5's): the one difference. */
function asCelery55(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(asCelery55);
  if (v === null || typeof v !== 'object') return v;
  const o = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asCelery55(x)]));
  if (o.subtask_type === 'chain' && !('task_id' in (o.options as object))) o.options = { task_id: null, ...(o.options as object) };
  return o;
}

/** Python's message with its ids (and reply_to) replaced by ours, position by position. */
function mapped(python: Envelope, ours: Envelope, pythonReplyTo: string): Envelope {
  const pairs = new Map<string, string>(ids(python).map((id, i) => [id, ids(ours)[i] ?? '?']));
  expect(new Set(pairs.values()).size, 'ids wired alike: as many distinct ids, one for one').toBe(new Set(ids(ours)).size);
  pairs.set(pythonReplyTo, ENV.replyTo);
  return JSON.parse(JSON.stringify(python), (_k, v: unknown) => (typeof v === 'string' && pairs.has(v) ? pairs.get(v) : v)) as Envelope;
}

const TIMES = new Set(['eta', 'expires']);
const OURS_ONLY = new Set([
  'beat_entry',
  'beat_scheduled_at',
  'periodic_task_name',
  'traceparent',
  'replaced_task_nesting',
  'stamped_headers',
  'stamps',
]);

describe.each(FIXTURES)('a canvas is published as Celery $celery publishes it', (fixture) => {
  it.each(Object.keys(ENTRIES))('%s: same message, ids wired alike', (name) => {
    const captured = fixture.cases[name];
    if (captured === undefined) throw new Error(`no capture of ${name}`);
    expect(captured.messages).toHaveLength(1);
    const python = (captured.messages[0] as { envelope: Envelope }).envelope;
    const message = render(name);
    const ours: Envelope = {
      body: JSON.parse(message.body) as Envelope['body'],
      headers: JSON.parse(message.headersJson) as Record<string, unknown>,
      properties: { ...message.properties },
    };
    const expected = mapped(python, ours, python.properties.reply_to as string);
    // The run's id is the canvas's result id: Celery's apply_async returns it, we publish under it.
    expect(ids(python).indexOf(captured.result)).toBe(ids(ours).indexOf(message.id));
    expect(message.id).toBe(RUN_ID);
    expect(ours.body).toEqual(asCelery55(expected.body));
    for (const [key, value] of Object.entries(expected.headers)) {
      if (key === 'origin') continue;
      if (TIMES.has(key)) expect([key, ours.headers[key] === null]).toEqual([key, value === null]);
      else expect([key, ours.headers[key]]).toEqual([key, value]);
    }
    expect(Object.keys(ours.headers).filter((k) => !(k in expected.headers) && !OURS_ONLY.has(k))).toEqual([]);
    expect(ours.properties.correlation_id).toBe(expected.properties.correlation_id);
    expect(ours.properties.priority).toBe(expected.properties.priority);
    expect(ours.properties.expiration).toBe(expected.properties.expiration);
    expect(message.destination.routingKey).toBe((expected.properties.delivery_info as { routing_key: string }).routing_key);
  });
});

/** The same group and chord runs as capture_canvas.py publishes with `group(...)` / `chord(...).apply_async()`. */
const GROUP_RUNS: Record<string, unknown> = {
  group3: { group: [0, 1, 2].map((i) => ({ task: 't.add', args: [i, i] })) },
  'group-chain': {
    group: [
      {
        chain: [
          { task: 't.add', args: [1, 1] },
          { task: 't.mul', args: [2] },
        ],
      },
      { task: 't.add', args: [2, 2] },
    ],
  },
  chord3: { chord: { header: [0, 1, 2].map((i) => ({ task: 't.add', args: [i, i] })), body: { task: 't.tsum' } } },
  'chord-chain-header': {
    chord: {
      header: [
        {
          chain: [
            { task: 't.add', args: [1, 1] },
            { task: 't.mul', args: [2] },
          ],
        },
        { task: 't.add', args: [2, 2] },
      ],
      body: { task: 't.tsum' },
    },
  },
};

// A group or chord as a chain's first step: the run is that chord's messages (a group with the signature after it).
GROUP_RUNS['chain-group-first'] = {
  chain: [
    {
      group: [
        { task: 't.add', args: [1, 1] },
        { task: 't.add', args: [2, 2] },
      ],
    },
    { task: 't.tsum' },
  ],
};
GROUP_RUNS['chain-group-first-more'] = {
  chain: [...(GROUP_RUNS['chain-group-first'] as { chain: unknown[] }).chain, { task: 't.mul', args: [2] }],
};
GROUP_RUNS['chain-chord-first'] = {
  chain: [
    {
      chord: {
        header: [
          { task: 't.add', args: [1, 1] },
          { task: 't.add', args: [2, 2] },
        ],
        body: { task: 't.tsum' },
      },
    },
    { task: 't.mul', args: [2] },
  ],
};

function renderRun(definition: unknown, taskId = RUN_ID): TaskMessage {
  const parsed = parseEntryDefinition({ schedule: 60, ...(definition as object) });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return renderTaskMessage(
    compileMessageTemplate(resolveEntry('run', parsed.entry, { zone: 'UTC', deployment: 'default' }), config(), ENV),
    {
      taskId,
      slotMs: 0,
      nowMs: Date.parse('2026-11-25T06:00:00Z'),
    },
  );
}

const envelopeOf = (m: TaskMessage): Envelope => ({
  body: JSON.parse(m.body) as Envelope['body'],
  headers: JSON.parse(m.headersJson) as Record<string, unknown>,
  properties: { ...m.properties },
});

/**
 * Celery 5.2 leaves out a plain group member's `group_index` (the header null, a chain member's
 * frozen last task without the key); 5.5 writes it, and so do we (5.2 workers read it only in a chord).
 */
function groupIndexAs55(e: Envelope, index: number, inChord: boolean): Envelope {
  if (inChord) return e;
  const copy = JSON.parse(JSON.stringify(e)) as Envelope;
  if (copy.headers.group !== null) copy.headers.group_index = index;
  const last = copy.body[2].chain?.[0]?.options as Record<string, unknown> | undefined;
  if (last !== undefined && 'group_id' in last && !('group_index' in last)) last.group_index = index;
  return copy;
}

/**
 * One id map over a whole run (the group's, the body's and every member's), Python's to ours, checked
 * to be one for one with the run's result id on ours: what turns a captured value into what we must send.
 */
function runIdSwap(python: readonly Envelope[], ours: readonly Envelope[], result: string): (v: unknown) => unknown {
  const pythonIds = python.flatMap((e) => [...ids(e), e.headers.group]);
  const ourIds = ours.flatMap((e) => [...ids(e), e.headers.group]);
  const pairs = new Map<unknown, unknown>(pythonIds.map((id, i) => [id, ourIds[i]]));
  expect(new Set(pairs.values()).size).toBe(new Set(ourIds).size);
  expect(pairs.get(result)).toBe(RUN_ID);
  pairs.set(python[0]?.properties.reply_to, ENV.replyTo);
  pairs.delete(null);
  return (v) => JSON.parse(JSON.stringify(v), (_k, x: unknown) => (typeof x === 'string' && pairs.has(x) ? pairs.get(x) : x));
}

describe.each(FIXTURES)('a group or chord run is published as Celery $celery publishes it', (fixture) => {
  it.each(Object.keys(GROUP_RUNS))('%s: the same messages in the same order, ids wired alike', (name) => {
    const captured = fixture.cases[name];
    if (captured === undefined) throw new Error(`no capture of ${name}`);
    const message = renderRun(GROUP_RUNS[name]);
    const all = runMessages(message);
    expect(all).toHaveLength(captured.messages.length);
    const ours = all.map(envelopeOf);
    const python = captured.messages.map((m, j) => groupIndexAs55(m.envelope, j, name.startsWith('chord')));
    // One id map over the whole run: the group's, the body's and every member's.
    const swap = runIdSwap(python, ours, captured.result);
    python.forEach((expected, j) => {
      const got = ours[j] as Envelope;
      const want = swap(expected) as Envelope;
      expect(got.body).toEqual(asCelery55(want.body));
      for (const [key, value] of Object.entries(want.headers)) {
        if (key === 'origin' || TIMES.has(key)) continue;
        expect([j, key, got.headers[key]]).toEqual([j, key, value]);
      }
      expect(Object.keys(got.headers).filter((k) => !(k in want.headers) && !OURS_ONLY.has(k))).toEqual([]);
      expect(got.properties.correlation_id).toBe(want.properties.correlation_id);
      expect(all[j]?.destination.routingKey).toBe((want.properties.delivery_info as { routing_key: string }).routing_key);
    });
    // A chord writes its size under the header group's id, as set_chord_size does.
    const sizes = Object.entries(captured.backend ?? {}).map(([key, size]) => [
      swap(key.replace(/^celery-taskset-meta-|\.s$/g, '')),
      Number(size),
    ]);
    expect(message.chordSize === undefined ? [] : [[message.chordSize.groupId, message.chordSize.size]]).toEqual(sizes);
  });
});

interface AmqpCaptured {
  readonly celery: string;
  readonly cases: Record<
    string,
    { result: string; messages: { headers: Record<string, unknown>; properties: Record<string, unknown>; body: unknown }[] }
  >;
}
const AMQP_FIXTURES: AmqpCaptured[] = ['5.2', '5.5'].map(
  (v) => JSON.parse(readFileSync(`test/fixtures/celery-canvas-amqp-${v}.json`, 'utf8')) as AmqpCaptured,
);

describe.each(AMQP_FIXTURES)('over RabbitMQ, a canvas run is published as Celery $celery publishes it', (fixture) => {
  it.each(Object.keys(fixture.cases))('%s: the same messages, AMQP properties and headers, ids wired alike', (name) => {
    const captured = fixture.cases[name];
    const definition = ENTRIES[name] ?? GROUP_RUNS[name];
    if (captured === undefined || definition === undefined) throw new Error(`no entry for ${name}`);
    const all = runMessages(renderRun(definition));
    expect(all).toHaveLength(captured.messages.length);
    const deliveries = all.map((message) => amqpDelivery(message));
    const ours: Envelope[] = deliveries.map((d, j) => ({
      body: JSON.parse(d.content.toString('utf8')) as Envelope['body'],
      headers: JSON.parse((all[j] as TaskMessage).headersJson) as Record<string, unknown>,
      properties: {},
    }));
    // RabbitMQ's arrival order of a group's members is not one Celery fixes (5.2 once delivered a
    // chain member after the member it precedes): each captured message is matched to ours by its task
    // and arguments, and its group_index then checked like every other header.
    const key = (task: unknown, body: unknown): string => JSON.stringify([task, (body as unknown[])[0], (body as unknown[])[1]]);
    const byKey = new Map(captured.messages.map((m) => [key(m.headers.task, m.body), m]));
    const python: Envelope[] = ours.map((e, j) => {
      const m = byKey.get(key(e.headers.task, e.body));
      if (m === undefined) throw new Error(`no captured message like our ${j}: ${key(e.headers.task, e.body)}`);
      return groupIndexAs55(
        { body: m.body as Envelope['body'], headers: m.headers, properties: m.properties },
        j,
        !name.startsWith('group'),
      );
    });
    const swap = runIdSwap(python, ours, captured.result);
    python.forEach((expected, j) => {
      const want = swap(expected) as Envelope;
      const got = ours[j] as Envelope;
      const p = (deliveries[j] as (typeof deliveries)[number]).properties;
      expect(got.body).toEqual(asCelery55(want.body));
      for (const [key, value] of Object.entries(want.headers)) {
        if (key === 'origin' || TIMES.has(key)) continue;
        expect([j, key, got.headers[key]]).toEqual([j, key, value]);
      }
      expect(Object.keys(got.headers).filter((k) => !(k in want.headers) && !OURS_ONLY.has(k))).toEqual([]);
      expect({
        content_type: p.contentType,
        content_encoding: p.contentEncoding,
        delivery_mode: p.deliveryMode,
        priority: p.priority,
        correlation_id: p.correlationId,
        reply_to: p.replyTo,
        expiration: p.expiration ?? null,
      }).toEqual(want.properties);
    });
  });
});

describe('group and chord run ids', () => {
  it('a replay carries the same ids in every message, and another slot other ones', () => {
    const run = GROUP_RUNS['chord-chain-header'];
    const a = runMessages(renderRun(run)).map((m) => m.body + m.headersJson);
    const b = runMessages(renderRun(run)).map((m) => m.body + m.headersJson);
    expect(a).toEqual(b);
    const other = runMessages(renderRun(run, uuidV5(RUN_ID, 'other')));
    expect(other.map((m) => JSON.parse(m.headersJson).id)).not.toEqual(
      runMessages(renderRun(run)).map((m) => JSON.parse(m.headersJson).id),
    );
    expect(runMessages(renderRun(run)).map((m) => (JSON.parse(m.headersJson) as { id: string }).id)).toEqual([
      uuidV5(RUN_ID, 'header[0].chain[0]'),
      uuidV5(RUN_ID, 'header[1]'),
    ]);
  });
});

describe("a run's parts from its message", () => {
  it('every canvas message carries the parts its outcome is made of (what a manual run or a backfill is followed by); a task with callbacks none', () => {
    const definitions = { ...ENTRIES, ...GROUP_RUNS };
    for (const [name, definition] of Object.entries(definitions)) {
      const parsed = parseEntryDefinition({ schedule: 60, ...(definition as object) });
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
      const entry = resolveEntry('run', parsed.entry, { zone: 'UTC', deployment: 'default' });
      const message = renderRun(definition);
      expect([name, messageOutcomeParts(message)]).toEqual([name, canvasOutcomeParts(entry, RUN_ID)]);
      expect([name, messageOutcomeParts(message).length > 0]).toEqual([name, name !== 'link']);
    }
    // Another run of the same template: the ids are that run's.
    const other = uuidV5(RUN_ID, 'other');
    expect(messageOutcomeParts(renderRun(ENTRIES['chain3'], other)).map((p) => p.id)).toContain(other);
  });
});

describe('canvas ids', () => {
  it('a replay of the same run carries the same ids throughout, and another run other ones', () => {
    const a = render('chain3');
    const b = render('chain3');
    expect(a.body).toBe(b.body);
    expect(a.headersJson).toBe(b.headersJson);
    const other = renderTaskMessage(
      compileMessageTemplate(
        resolveEntry(
          'chain3',
          (parseEntryDefinition({ schedule: 60, ...(ENTRIES.chain3 as object) }) as { ok: true; entry: never }).entry,
          { zone: 'UTC', deployment: 'default' },
        ),
        config(),
        ENV,
      ),
      {
        taskId: uuidV5(RUN_ID, 'other'),
        slotMs: 0,
        nowMs: 0,
      },
    );
    const stepIds = (m: TaskMessage) => ids({ body: JSON.parse(m.body), headers: JSON.parse(m.headersJson), properties: {} });
    expect(new Set([...stepIds(a), ...stepIds(other)]).size).toBe(6);
    expect(stepIds(a)).toEqual([uuidV5(RUN_ID, 'chain[0]'), RUN_ID, uuidV5(RUN_ID, 'chain[1]')]);
  });
});

describe('canvas config', () => {
  const problems = (value: object) => {
    const parsed = parseEntryDefinition({ schedule: 60, ...value });
    return parsed.ok ? [] : parsed.problems.map((p) => `${p.path}: ${p.message}`);
  };

  it('names the path of a bad signature', () => {
    expect(problems({ chain: [{ task: 'a' }, { task: 'b' }, { args: [1] }] })).toEqual([
      'chain[2].task: task is required: the registered name of a Celery task, such as "proj.tasks.add"',
    ]);
    expect(problems({ task: 'a', link: [{ task: 'b', options: { queue: 7 } }] })).toEqual([
      'link[0].options.queue: queue must be a string',
    ]);
    expect(problems({ chain: [{ task: 'a', linkError: [{ task: 'b', bogus: 1 }] }] })[0]).toMatch(
      /^chain\[0\]\.linkError\[0\]\.bogus: unknown key "bogus"/,
    );
  });

  it('wants one of task, chain, group and chord, not two nor none', () => {
    expect(problems({})).toEqual(['task: task is required: the registered name of a Celery task, such as "proj.tasks.add"']);
    expect(problems({ task: 'a', chain: [{ task: 'b' }] })).toEqual([
      'chain: give one of task, chain, group or chord, not task and chain: a canvas names its tasks in its signatures',
    ]);
    expect(problems({ group: [{ task: 'a' }], chord: { header: [{ task: 'b' }], body: { task: 'c' } } })).toEqual([
      'chord: give one of task, chain, group or chord, not group and chord: a canvas names its tasks in its signatures',
    ]);
    expect(problems({ group: [] })).toEqual(['group: group must not be empty']);
    expect(problems({ chord: { header: [{ task: 'a' }], body: { args: [] } } })).toEqual([
      'chord.body.task: task is required: the registered name of a Celery task, such as "proj.tasks.add"',
    ]);
    expect(problems({ group: [{ task: 'a' }], link: [{ task: 'l' }] })[0]).toMatch(/^link: an entry's link cannot go with/);
    expect(problems({ group: Array.from({ length: 101 }, () => ({ task: 'a' })) })).toEqual([
      'group[100]: a canvas holds at most 100 signatures, callbacks included',
    ]);
    expect(problems({ chain: [] })).toEqual(['chain: chain must hold at least one signature']);
  });

  it('takes a group last or before a signature, a group or chord first with signatures after it, and no entry-wide callback beside them', () => {
    const chord = { chord: { header: [{ task: 'a' }], body: { task: 'b' } } };
    const group = { group: [{ task: 'a' }] };
    expect(problems({ chain: [chord, { task: 'c' }] })).toEqual([]);
    expect(problems({ chain: [group, { task: 'b' }, { task: 'c' }] })).toEqual([]);
    expect(problems({ chain: [chord] })).toEqual([
      "chain[0]: a chain of one chord is that chord: give the entry's chord instead of its chain",
    ]);
    expect(problems({ chain: [group] })).toEqual([
      "chain[0]: a chain of one group is that group: give the entry's group instead of its chain",
    ]);
    expect(problems({ chain: [chord, { task: 'c' }, group] })).toEqual([
      "chain[2]: after a chain's first chord, the steps must be signatures: Celery sends them from the chord's body, and tsbeat publishes no group or chord there",
    ]);
    expect(problems({ chain: [group, { task: 'b' }, chord] })).toEqual([
      "chain[2]: after a chain's first group and the signature after it, the steps must be signatures: Celery sends them from the chord's body, and tsbeat publishes no group or chord there",
    ]);
    // Celery's chain.apply_async(args) reaches no header task of a group first (chain-group-first-args
    // in the fixtures): the entry's args are refused, not dropped.
    for (const fixture of FIXTURES) {
      const captured = fixture.cases['chain-group-first-args'];
      expect(captured?.messages.map((m) => m.envelope.body[0])).toEqual([
        [1, 1],
        [2, 2],
      ]);
    }
    expect(problems({ chain: [group, { task: 'b' }], args: [7] })).toEqual([
      "args: an entry's args cannot go with a chain whose first step is a group: Celery's chain sends that chord's header tasks as written, the args reaching none of them; give them to the header's signatures",
    ]);
    expect(problems({ chain: [chord, { task: 'b' }], kwargs: { k: 1 } })).toEqual([
      "kwargs: an entry's kwargs cannot go with a chain whose first step is a chord: Celery's chain sends that chord's header tasks as written, the kwargs reaching none of them; give them to the header's signatures",
    ]);
    // Entries that differ only in their arguments share a checked shape: not this one's arguments.
    const shapes = new EntryShapes();
    expect(shapes.parse({ schedule: 60, chain: [group, { task: 'b' }] }).ok).toBe(true);
    expect(shapes.parse({ schedule: 60, chain: [group, { task: 'b' }], args: [7] })).toMatchObject({
      ok: false,
      problems: [{ path: 'args' }],
    });
    // A config file's entry, as beat check reads it.
    expect(() =>
      parseConfig({ beatSchedule: { gf: { schedule: 60, chain: [group, { task: 'b' }], kwargs: { k: 1 } } } }, 'canvas.test'),
    ).toThrow(/beatSchedule\.gf\.kwargs: an entry's kwargs cannot go with a chain whose first step is a group/);
    // And where the message is built, whatever made the entry.
    const parsed = parseEntryDefinition({ schedule: 60, chain: [group, { task: 'b' }] });
    if (!parsed.ok) throw new Error('unexpected');
    const resolved = resolveEntry('run', { ...parsed.entry, args: [7] }, { zone: 'UTC', deployment: 'default' });
    expect(() => compileMessageTemplate(resolved, config(), ENV)).toThrow(
      /^entry "run": an entry's args cannot go with a chain whose first step is a group/,
    );
    // Celery's chain makes a group and the signature after it a chord.
    expect(problems({ chain: [{ task: 'a' }, { group: [{ task: 'b' }] }, { task: 'c' }] })).toEqual([]);
    for (const after of [{ group: [{ task: 'c' }] }, chord])
      expect(problems({ chain: [{ task: 'a' }, { group: [{ task: 'b' }] }, after] })[0]).toMatch(
        /^chain\[1\]: a group can be followed by a signature only \(Celery's chain makes the two a chord, the signature its body\)/,
      );
    expect(problems({ chain: [{ task: 'a' }, chord], linkError: [{ task: 'e' }] })[0]).toMatch(
      /^linkError: an entry's linkError cannot go with/,
    );
    expect(
      problems({ chain: [{ task: 'a' }, { chord: { header: [{ chain: [{ task: 'x' }, { args: [] }] }], body: { task: 'b' } } }] }),
    ).toEqual(['chain[1].chord.header[0].chain[1].task: task is required: the registered name of a Celery task, such as "proj.tasks.add"']);
    expect(problems({ chain: [{ task: 'a' }, { group: [] }] })).toEqual(['chain[1].group: group must not be empty']);
  });

  it('bounds a canvas: signatures in all, callbacks nested', () => {
    expect(problems({ chain: Array.from({ length: 101 }, () => ({ task: 'a' })) })).toEqual([
      'chain[100]: a canvas holds at most 100 signatures, callbacks included',
    ]);
    let deep: object = { task: 'z' };
    for (let i = 0; i < 5; i += 1) deep = { task: 'z', link: [deep] };
    expect(problems({ task: 'a', link: [deep] })).toEqual(['link[0].link[0].link[0].link[0].link: callbacks nest at most 4 levels deep']);
  });
});
