import { describe, expect, it } from 'vitest';
import { advanceParts } from '../../src/outcomes/canvas-outcome.js';
import { partEvent } from '../../src/outcomes/tracker.js';
import { canvasOutcomeParts, canvasPartId } from '../../src/celery/canvas.js';
import { decodeRun, encodeRun } from '../../src/redis/run-history-codec.js';
import type { RunPart, RunRecord } from '../../src/ports/outcomes.js';

const RUN = '0b6d7f8e-2f3a-4c5d-9e8f-0a1b2c3d4e5f';
const sig = (task: string) => ({ task, args: [], kwargs: {}, options: {}, immutable: false });
const entry = (canvas: object) => ({ name: 'x', task: 'celery.chain', args: [], kwargs: {}, options: {}, canvas });
const pending = (parts: { path: string; task: string; id: string; final: boolean }[]): RunPart[] =>
  parts.map((p) => ({ ...p, state: 'PENDING' }));
const run = (parts: RunPart[]): RunRecord => ({ taskId: RUN, slotMs: 1000, publishedAtMs: 1000, state: 'PENDING', parts });

describe('a canvas run outcome made of its parts', () => {
  it('gives each part the id its message carries, the result part(s) marked final', () => {
    const chain = canvasOutcomeParts(entry({ chain: [sig('a'), sig('b'), sig('c')] }), RUN);
    expect(chain.map((p) => [p.path, p.task, p.final])).toEqual([
      ['chain[0]', 'a', false],
      ['chain[1]', 'b', false],
      ['chain[2]', 'c', true],
    ]);
    // The chain's last task carries the run's own id; the others their path's.
    expect(chain.map((p) => p.id)).toEqual([canvasPartId(RUN, 'chain[0]'), canvasPartId(RUN, 'chain[1]'), RUN]);
    const group = canvasOutcomeParts(entry({ group: [sig('a'), { chain: [sig('b'), sig('c')] }] }), RUN);
    expect(group.map((p) => [p.path, p.id, p.final])).toEqual([
      ['group[0]', canvasPartId(RUN, 'group[0]'), true],
      ['group[1].chain[0]', canvasPartId(RUN, 'group[1].chain[0]'), false],
      ['group[1].chain[1]', canvasPartId(RUN, 'group[1].chain[1]'), true],
    ]);
    const chord = canvasOutcomeParts(entry({ chord: { header: [sig('a'), sig('b')], body: sig('sum') } }), RUN);
    expect(chord.map((p) => [p.path, p.id, p.final])).toEqual([
      ['header[0]', canvasPartId(RUN, 'header[0]'), false],
      ['header[1]', canvasPartId(RUN, 'header[1]'), false],
      ['body', RUN, true],
    ]);
    // A group followed by a signature is Celery's chord of the two: the members where the entry has them, the signature its body.
    const upgraded = canvasOutcomeParts(entry({ chain: [sig('a'), { group: [sig('b'), sig('c')] }, sig('sum'), sig('d')] }), RUN);
    expect(upgraded.map((p) => [p.path, p.id, p.final])).toEqual([
      ['chain[0]', canvasPartId(RUN, 'chain[0]'), false],
      ['chain[1].group[0]', canvasPartId(RUN, 'chain[1].group[0]'), false],
      ['chain[1].group[1]', canvasPartId(RUN, 'chain[1].group[1]'), false],
      ['chain[2]', canvasPartId(RUN, 'chain[2]'), false],
      ['chain[3]', RUN, true],
    ]);
    // A group or chord first: its members, its body, then the later steps; the last has the run's id.
    const groupFirst = canvasOutcomeParts(entry({ chain: [{ group: [sig('a'), sig('b')] }, sig('sum'), sig('d')] }), RUN);
    expect(groupFirst.map((p) => [p.path, p.id, p.final])).toEqual([
      ['chain[0].group[0]', canvasPartId(RUN, 'chain[0].group[0]'), false],
      ['chain[0].group[1]', canvasPartId(RUN, 'chain[0].group[1]'), false],
      ['chain[1]', canvasPartId(RUN, 'chain[1]'), false],
      ['chain[2]', RUN, true],
    ]);
    const chordFirst = canvasOutcomeParts(entry({ chain: [{ chord: { header: [sig('a')], body: sig('sum') } }, sig('d')] }), RUN);
    expect(chordFirst.map((p) => [p.path, p.id, p.final])).toEqual([
      ['chain[0].header[0]', canvasPartId(RUN, 'chain[0].header[0]'), false],
      ['chain[0].body', canvasPartId(RUN, 'chain[0]'), false],
      ['chain[1]', RUN, true],
    ]);
    expect(canvasOutcomeParts(entry({ link: [sig('cb')] }), RUN)).toEqual([]);
  });

  it('a group run succeeds only when every member has (none stored under the run id: the hazard was unknown)', () => {
    const record = run(pending(canvasOutcomeParts(entry({ group: [sig('a'), sig('b'), sig('c')] }), RUN)));
    const two = advanceParts(record, [{ state: 'SUCCESS', doneAtMs: 2000 }, { state: 'SUCCESS', doneAtMs: 2500 }, undefined], 3000, 60_000);
    expect(two.state).toBe('STARTED');
    expect(two.parts?.map((p) => p.state)).toEqual(['SUCCESS', 'SUCCESS', 'PENDING']);
    const all = advanceParts(two, [undefined, undefined, { state: 'SUCCESS', doneAtMs: 4000 }], 5000, 60_000);
    expect(all).toMatchObject({ state: 'SUCCESS', finishedAtMs: 4000, runtimeMs: 3000 });
    // No result was read (as from task events alone): none is claimed.
    expect(all.result).toBeUndefined();
    expect(all.exception).toBeUndefined();
  });

  it("keeps the run's result: a group's list of its members' in order, a chord body's, none when a member's is too long", () => {
    const group = run(pending(canvasOutcomeParts(entry({ group: [sig('a'), { chain: [sig('b'), sig('c')] }] }), RUN)));
    const done = advanceParts(
      group,
      [
        { state: 'SUCCESS', result: 10 },
        { state: 'SUCCESS', result: 'not final' },
        { state: 'SUCCESS', result: { x: [1] } },
      ],
      2000,
      60_000,
    );
    expect(done.result).toBe('[10,{"x":[1]}]');
    expect(done.parts?.map((p) => p.result)).toEqual(['10', undefined, '{"x":[1]}']);
    const chord = run(pending(canvasOutcomeParts(entry({ chord: { header: [sig('a')], body: sig('sum') } }), RUN)));
    expect(
      advanceParts(
        chord,
        [
          { state: 'SUCCESS', result: 1 },
          { state: 'SUCCESS', result: { sum: 1 } },
        ],
        2000,
        60_000,
      ).result,
    ).toBe('{"sum":1}');
    const huge = 'x'.repeat(5000);
    const one = run(pending(canvasOutcomeParts(entry({ group: [sig('a')] }), RUN)));
    const long = advanceParts(one, [{ state: 'SUCCESS', result: huge }], 2000, 60_000);
    expect([long.state, long.result]).toEqual(['SUCCESS', undefined]);
  });

  it('a chain whose middle step fails is a FAILURE naming that step, not the later ones Celery marks failed too', () => {
    const parts = pending(canvasOutcomeParts(entry({ chain: [sig('a'), sig('boom'), sig('c')] }), RUN));
    const failed = advanceParts(
      run(parts),
      [{ state: 'SUCCESS' }, { state: 'FAILURE', exception: 'ValueError: boom' }, { state: 'FAILURE', exception: 'ValueError: boom' }],
      2000,
      60_000,
    );
    expect(failed.state).toBe('FAILURE');
    expect(failed.exception).toBe(`chain[1] boom (${canvasPartId(RUN, 'chain[1]')}) failed: ValueError: boom`);
    // Each failed part keeps what it failed with, for the dashboard's table of parts.
    expect(failed.parts?.map((p) => p.exception)).toEqual([undefined, 'ValueError: boom', 'ValueError: boom']);
  });

  it('a failure heard by a task event ends the run at once, at the worker time', () => {
    const parts = pending(canvasOutcomeParts(entry({ group: [sig('a'), sig('b')] }), RUN));
    const id = (parts[1] as RunPart).id;
    const next = partEvent(run(parts), { taskId: id, type: 'task-failed', state: 'FAILURE', atMs: 7000, exception: 'KeyError: k' });
    expect(next).toMatchObject({ state: 'FAILURE', finishedAtMs: 7000, exception: `group[1] b (${id}) failed: KeyError: k` });
    expect(partEvent(next, { taskId: 'other', type: 'task-started', state: 'STARTED', atMs: 8000 })).toBe(next);
  });

  it('gives up as unknown past the timeout, and changes nothing without news', () => {
    const record = run(pending(canvasOutcomeParts(entry({ group: [sig('a')] }), RUN)));
    expect(advanceParts(record, [undefined], 2000, 60_000)).toBe(record);
    expect(advanceParts(record, [undefined], 62_000, 60_000).state).toBe('unknown');
  });

  it('keeps the parts in the history record, and old records still decode', () => {
    const parts = pending(canvasOutcomeParts(entry({ chord: { header: [sig('a')], body: sig('sum') } }), RUN));
    const record = {
      ...run(parts.map((p) => (p.final ? { ...p, state: 'SUCCESS' as const, result: '{"sum":1}' } : p))),
      state: 'SUCCESS' as const,
      result: '{"sum":1}',
    };
    expect(decodeRun(encodeRun(record))).toEqual(record);
    // A failed part's exception: after a null result, so that an older tsbeat reads the part as before.
    const failedPart: RunPart = { path: 'chain[1]', task: 'b', id: 'i', state: 'FAILURE', final: false, exception: 'KeyError: k' };
    const failed: RunRecord = { ...run([failedPart]), state: 'FAILURE' };
    expect(JSON.parse(encodeRun(failed)).parts).toEqual([['chain[1]', 'b', 'i', 'FAILURE', 0, null, 'KeyError: k']]);
    expect(decodeRun(encodeRun(failed))).toEqual(failed);
    expect(decodeRun('{"id":"t","slot":1,"pub":2,"st":"SUCCESS"}')).toEqual({ taskId: 't', slotMs: 1, publishedAtMs: 2, state: 'SUCCESS' });
    expect(decodeRun('{"id":"t","slot":1,"pub":2,"st":"SUCCESS","parts":[["p","t","i","NOPE",1],7]}')?.parts).toEqual([]);
  });
});
