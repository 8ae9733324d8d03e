/**
 * The check before a publish (before-publish.ts) on the control loop's paths: a manual run and
 * each backfill step of a RedBeat or django entry are checked against its source first, and go
 * out as the entry is then (an edit in force, a deleted entry one the leader lacks); a config-file
 * entry's are not checked. The control loop with fakes of its ports; `check` plays the source's
 * look, changing what findRuntimeEntry answers.
 */
import { describe, expect, it, vi } from 'vitest';
import { DEFAULTS } from '../../src/base/defaults.js';
import { silentLogger } from '../../src/base/log.js';
import type { TaskMessage } from '../../src/celery/message.js';
import { parseEntryDefinition } from '../../src/config/entry-definition.js';
import { parseConfig } from '../../src/config/load.js';
import { resolveEntry } from '../../src/config/resolve.js';
import type { EntryOrigin, ResolvedEntry } from '../../src/config/resolve.js';
import { TriggerResult } from '../../src/ports/control-source.js';
import type {
  BackfillRequest,
  BackfillSource,
  BackfillStepCall,
  ControlSource,
  TriggerPublisher,
  TriggerRequest,
} from '../../src/ports/control-source.js';
import { ControlLoop } from '../../src/runtime/control-loop.js';

const MINUTE = 60_000;
const T0 = Date.parse('2026-11-23T06:00:00.000Z');
const NOW = T0 + 6 * 60 * MINUTE;
const ENV = { origin: 'gen1@unit', replyTo: '00000000-0000-4000-8000-000000000000' };

function redbeatEntry(name: string, args: unknown[], schedule: unknown = 3600): ResolvedEntry {
  const parsed = parseEntryDefinition({ task: 't.r', schedule, args });
  if (!parsed.ok) throw new Error(name);
  return resolveEntry(name, parsed.entry, { zone: 'UTC', deployment: 'default' }, 'redbeat', undefined, undefined, {
    incarnation: 'r1',
    revision: '@r1',
  });
}

const argsOf = (message: TaskMessage): unknown => (JSON.parse(message.body) as unknown[])[0];

/** Pending manual runs and backfills, and what was published of them. */
class Requests implements ControlSource, BackfillSource, TriggerPublisher {
  triggers: { text: string; request: TriggerRequest }[] = [];
  backfills: { text: string; request: BackfillRequest }[] = [];
  readonly published: { entry: string; args: unknown; slotMs?: number }[] = [];
  readonly discarded: string[] = [];
  private throughMs: number | undefined;

  paused = (): Promise<Set<string>> => Promise.resolve(new Set());
  pendingTriggers = (): Promise<{ text: string; request: TriggerRequest }[]> => Promise.resolve([...this.triggers]);
  discardTrigger = (text: string): Promise<void> => {
    this.discarded.push(text);
    this.triggers = this.triggers.filter((t) => t.text !== text);
    return Promise.resolve();
  };
  publishTrigger = (message: TaskMessage, text: string): Promise<TriggerResult> => {
    this.published.push({ entry: message.entry, args: argsOf(message) });
    this.triggers = this.triggers.filter((t) => t.text !== text);
    return Promise.resolve(TriggerResult.Published);
  };
  refuseBackfill = (_text: string, _id: string | undefined, reason: string): Promise<void> =>
    Promise.reject(new Error(`refused: ${reason}`));
  pendingBackfills = (): Promise<{ text: string; request: BackfillRequest }[]> => Promise.resolve([...this.backfills]);
  backfillThrough = (): Promise<number | undefined> => Promise.resolve(this.throughMs);
  backfillProgress = (): Promise<{ published: number; throughMs?: number } | undefined> =>
    Promise.resolve(this.throughMs === undefined ? undefined : { published: 0, throughMs: this.throughMs });
  publishBackfill = ({ step }: BackfillStepCall): Promise<{ kind: 'done'; outcomes: 'published'[] }> => {
    for (const run of step.runs) this.published.push({ entry: run.message.entry, args: argsOf(run.message), slotMs: run.slotMs });
    this.throughMs = step.throughMs;
    if (step.last) this.backfills = [];
    return Promise.resolve({ kind: 'done', outcomes: step.runs.map(() => 'published' as const) });
  };
}

function setup(runtime: Map<string, ResolvedEntry>, check: (due: Record<string, readonly string[]>) => void) {
  const requests = new Requests();
  const checks: Record<string, readonly string[]>[] = [];
  const loop = new ControlLoop({
    config: parseConfig({ name: 'unit', beatSchedule: { f: { task: 't.f', schedule: 60, args: ['file'] } } }, 'unit'),
    source: requests,
    publisher: requests,
    messageEnv: ENV,
    logger: silentLogger,
    now: () => NOW,
    lease: () => 'token',
    onPaused: () => undefined,
    intervalMs: 60 * MINUTE,
    findRuntimeEntry: (name) => runtime.get(name),
    beforePublish: {
      origins: new Set<EntryOrigin>(['redbeat', 'django']),
      check: (due) => {
        const shown = Object.fromEntries(due);
        checks.push(shown);
        check(shown);
        return Promise.resolve();
      },
    },
  });
  return { requests, checks, loop };
}

describe('the control loop checks RedBeat and django entries before it publishes them', () => {
  it('a manual run goes out as the entry is after the check; a deleted entry is one the leader lacks; a file entry is not checked', async () => {
    const runtime = new Map([
      ['rb-e', redbeatEntry('rb-e', ['v1'])],
      ['rb-d', redbeatEntry('rb-d', ['v1'])],
    ]);
    // The look the check starts finds rb-e edited and rb-d deleted.
    const { requests, checks, loop } = setup(runtime, () => {
      runtime.set('rb-e', redbeatEntry('rb-e', ['v2']));
      runtime.delete('rb-d');
    });
    const trigger = (entry: string, id: string): { text: string; request: TriggerRequest } => {
      const request = { entry, id, at: NOW - 100 };
      return { text: JSON.stringify(request), request };
    };
    requests.triggers = [trigger('rb-d', 'id-d'), trigger('rb-e', 'id-e'), trigger('f', 'id-f')];
    loop.start();
    try {
      await vi.waitFor(() => expect(requests.published).toHaveLength(2), { timeout: 5000 });
    } finally {
      await loop.stop();
    }
    expect(requests.published).toEqual([
      { entry: 'rb-e', args: ['v2'] },
      { entry: 'f', args: ['file'] },
    ]);
    expect(checks).toEqual([{ redbeat: ['rb-d'] }, { redbeat: ['rb-e'] }]);
    // As a request for a name the leader never had: kept through the grace, then discarded (not published).
    expect(requests.triggers.map((t) => t.request.id)).toEqual(['id-d']);
  });

  it('a backfill is planned from the entry as it is after the check, and a step after an edit stops so that it is planned again', async () => {
    const every = { cron: '* * * * *' };
    const runtime = new Map([['rb-b', redbeatEntry('rb-b', ['v1'], every)]]);
    // Edited between the first step and the second: the second step's check finds ['v2'].
    const { requests, checks, loop } = setup(runtime, () => {
      if (checks.length === 2) runtime.set('rb-b', redbeatEntry('rb-b', ['v2'], every));
    });
    const slots = DEFAULTS.backfillChunk + 20;
    const request: BackfillRequest = {
      id: 'b1',
      entry: 'rb-b',
      fromMs: T0,
      toMs: T0 + (slots - 1) * MINUTE,
      limit: 1000,
      unrecorded: false,
      at: NOW,
    };
    requests.backfills = [{ text: JSON.stringify(request), request }];
    loop.start();
    try {
      // The second step stopped (the entry changed): the next look plans again and publishes the rest with ['v2'].
      await vi.waitFor(() => expect(requests.published.length).toBeGreaterThanOrEqual(DEFAULTS.backfillChunk), { timeout: 5000 });
      expect(checks).toEqual([{ redbeat: ['rb-b'] }, { redbeat: ['rb-b'] }]);
      loop.poke();
      await vi.waitFor(() => expect(requests.published).toHaveLength(slots), { timeout: 5000 });
    } finally {
      await loop.stop();
    }
    const args = requests.published.map((p) => JSON.stringify(p.args));
    expect(args.slice(0, DEFAULTS.backfillChunk).every((a) => a === '["v1"]')).toBe(true);
    expect(args.slice(DEFAULTS.backfillChunk).every((a) => a === '["v2"]')).toBe(true);
    expect(requests.published.map((p) => p.slotMs)).toEqual(Array.from({ length: slots }, (_, i) => T0 + i * MINUTE));
  });
});
