/**
 * The metered publisher of manual runs and backfills (src/service/metered-triggers.ts) around fake
 * inner ones: what it reports to the SchedulerEvents, when it hands leadership over, and that
 * everything else passes through untouched. The schedule's runs: test/unit/runner.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { canvasPartId } from '../../src/celery/canvas.js';
import { compileMessageTemplate, makeOrigin, renderTaskMessage } from '../../src/celery/message.js';
import type { TaskMessage } from '../../src/celery/message.js';
import { parseConfig } from '../../src/config/load.js';
import { BeatError, ErrorCode } from '../../src/base/errors.js';
import type { TriggerPublisher, TriggerResult } from '../../src/ports/control-source.js';
import type { DueRun } from '../../src/ports/dispatcher.js';
import { handOverOnRefusal, meteredTriggers } from '../../src/service/metered-triggers.js';
import type { PublishEvents } from '../../src/service/metered-triggers.js';

const SLOT = Date.UTC(2026, 10, 22, 6, 0, 0);
const TOKEN = 'token-1';
const config = parseConfig(
  { name: 'metered', beatSchedule: { a: { task: 't.a', schedule: 1 }, b: { task: 't.b', schedule: 1 }, c: { task: 't.c', schedule: 1 } } },
  'metered.test',
);
const env = { origin: makeOrigin(1, 'host'), replyTo: 'reply' };

function runOf(name: string): DueRun {
  const entry = config.entries.find((e) => e.name === name);
  if (entry === undefined) throw new Error(`no entry ${name}`);
  const message = renderTaskMessage(compileMessageTemplate(entry, config, env), { taskId: `${name}-id`, slotMs: SLOT, nowMs: SLOT });
  return { entry, slotMs: SLOT, message };
}
const RUNS = [runOf('a'), runOf('b'), runOf('c')];

/** Everything reported, in order, and every hand-over asked for. */
function recorder() {
  const reported: unknown[][] = [];
  const handedOver: string[] = [];
  const events: PublishEvents = {
    publishFailed: (error) => reported.push(['publishFailed', error]),
    triggerPublished: (message) => reported.push(['triggerPublished', message.entry]),
  };
  return { events, reported, handedOver, handOver: (reason: string) => handedOver.push(reason) };
}

const readOnly = new BeatError(ErrorCode.RedisReadOnly, 'the state Redis is a read-only replica; point state.url at the primary');

describe('meteredTriggers', () => {
  const message: TaskMessage = (RUNS[0] as DueRun).message;

  function fakeTriggers(answer: TriggerResult | Error) {
    const calls: unknown[][] = [];
    const publisher: TriggerPublisher = {
      publishTrigger: (m, requestText, token, nowMs) => {
        calls.push([m, requestText, token, nowMs]);
        return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
      },
    };
    return { publisher, calls };
  }

  it('reports a manual run the broker took, and nothing for one no longer pending or fenced', async () => {
    for (const [answer, reported] of [
      [1, [['triggerPublished', 'a']]],
      [0, []],
      [-1, []],
    ] as const) {
      const inner = fakeTriggers(answer);
      const r = recorder();
      expect(await meteredTriggers(inner.publisher, r.events, r.handOver).publishTrigger(message, '{"entry":"a"}', TOKEN, SLOT)).toBe(
        answer,
      );
      expect(inner.calls).toEqual([[message, '{"entry":"a"}', TOKEN, SLOT]]);
      expect(r.reported).toEqual(reported);
      expect(r.handedOver).toEqual([]);
    }
  });

  it("reports a canvas run's parts with its manual run and its backfilled slots (what the tracker follows it by), none with a plain run's", async () => {
    const canvasConfig = parseConfig(
      {
        name: 'metered',
        beatSchedule: { chain: { schedule: 60, chain: [{ task: 't.a' }, { task: 't.b' }] }, plain: { task: 't.p', schedule: 60 } },
      },
      'metered.test',
    );
    const render = (name: string, taskId: string): TaskMessage =>
      renderTaskMessage(
        compileMessageTemplate(
          canvasConfig.entries.find((e) => e.name === name)!,
          canvasConfig,
          env,
        ),
        {
          taskId,
          slotMs: SLOT,
          nowMs: SLOT,
        },
      );
    const reported: unknown[] = [];
    const events: PublishEvents = {
      publishFailed: () => undefined,
      triggerPublished: (m, _revision, parts) => reported.push(['trigger', m.id, parts?.map((p) => [p.path, p.id])]),
      backfillPublished: (entry, runs) => reported.push(['backfill', entry, runs.map((r) => [r.id, r.parts?.map((p) => [p.path, p.id])])]),
    };
    const runId = '0b6d7f8e-2f3a-4c5d-9e8f-0a1b2c3d4e5f';
    const publisher: TriggerPublisher = {
      publishTrigger: () => Promise.resolve(1 as TriggerResult),
      publishBackfill: ({ step }) => Promise.resolve({ kind: 'done', outcomes: step.runs.map(() => 'published' as const) }),
    };
    const metered = meteredTriggers(publisher, events, () => undefined);
    await metered.publishTrigger(render('chain', runId), '{}', TOKEN, SLOT);
    await metered.publishTrigger(render('plain', runId), '{}', TOKEN, SLOT);
    const step = { runs: [{ slotMs: SLOT, message: render('chain', runId) }], excluded: 0, throughMs: SLOT, total: 1, last: true };
    await metered.publishBackfill?.({
      entry: 'chain',
      step,
      request: { text: '{}', id: 'b', unrecorded: false },
      token: TOKEN,
      nowMs: SLOT,
    });
    const parts = [
      ['chain[0]', canvasPartId(runId, 'chain[0]')],
      ['chain[1]', runId],
    ];
    expect(reported).toEqual([
      ['trigger', runId, parts],
      ['trigger', runId, []],
      ['backfill', 'chain', [[runId, parts]]],
    ]);
  });

  it('rethrows a failed manual run after reporting it, handing over on a refusal', async () => {
    const r = recorder();
    await expect(
      meteredTriggers(fakeTriggers(readOnly).publisher, r.events, r.handOver).publishTrigger(message, '{}', TOKEN, SLOT),
    ).rejects.toBe(readOnly);
    expect(r.reported).toEqual([['publishFailed', readOnly]]);
    expect(r.handedOver).toEqual(['cannot publish: the state Redis is a read-only replica; point state.url at the primary']);

    const down = new Error('connection closed');
    const s = recorder();
    await expect(
      meteredTriggers(fakeTriggers(down).publisher, s.events, s.handOver).publishTrigger(message, '{}', TOKEN, SLOT),
    ).rejects.toBe(down);
    expect(s.reported).toEqual([['publishFailed', down]]);
    expect(s.handedOver).toEqual([]);
  });
});

describe('handOverOnRefusal', () => {
  it('hands over when a refusal is the error or its cause, and not for an outage that retrying fixes', () => {
    const handedOver: string[] = [];
    const wrapped = new BeatError(ErrorCode.BrokerPublish, 'publishing failed', {
      cause: new BeatError(ErrorCode.RedisWrongType, 'key tsbeat:x:fence holds a hash'),
    });
    for (const error of [
      readOnly,
      wrapped,
      new BeatError(ErrorCode.RedisUnavailable, 'cannot reach Redis'),
      new Error('connection closed'),
    ])
      handOverOnRefusal(error, (reason) => handedOver.push(reason));
    expect(handedOver).toEqual([
      'cannot publish: the state Redis is a read-only replica; point state.url at the primary',
      'cannot publish: key tsbeat:x:fence holds a hash',
    ]);
  });
});
