/**
 * A backfill's overlap policy: which one a request runs under (asked for, else the entry's own), the
 * requester's checks of `--overlap`/`overlap` (a name, and a deployment that can apply it), and the
 * leader's next step per policy (core/backfill-overlap.ts), held to a walk-through of Temporal's
 * ProcessBuffer written out by hand: the slots resolved in order against a run in flight.
 */
import { describe, expect, it } from 'vitest';
import { BACKFILL_OVERLAPS, backfillOverlap, paceStep } from '../../src/core/backfill-overlap.js';
import type { PaceStep } from '../../src/core/backfill-overlap.js';
import {
  API_FIELDS,
  CLI_FIELDS,
  backfillPolicy,
  checkBackfillInput,
  decodeBackfillRequest,
  encodeBackfillRequest,
} from '../../src/control/backfill-request.js';
import { BACKFILL_OVERLAP_NAMES } from '../../src/dashboard/wire.js';

type Entry = Parameters<typeof backfillPolicy>[1];
const entry = (overlap: Entry['overlap'], ignoreResult?: boolean): Entry => ({
  name: 'e',
  overlap,
  options: ignoreResult === undefined ? {} : { ignoreResult },
});
const config = (resultBackend: string | undefined, broker = 'redis://localhost:6379/0'): Parameters<typeof backfillPolicy>[2] => ({
  resultBackend: resultBackend === undefined ? undefined : { url: resultBackend, transportOptions: {} },
  taskEvents: false,
  broker: { url: broker },
});

const FROM = '2026-11-20T00:00:00Z';
const TO = '2026-11-20T06:00:00Z';

describe("a backfill's overlap policy", () => {
  it("runs under the one asked for, else the entry's own (allow as allowAll)", () => {
    expect(backfillOverlap(undefined, 'allow')).toBe('allowAll');
    expect(backfillOverlap(undefined, 'bufferAll')).toBe('bufferAll');
    expect(backfillOverlap('allowAll', 'skip')).toBe('allowAll');
    expect(backfillOverlap('terminateOther', 'allow')).toBe('terminateOther');
    expect([...BACKFILL_OVERLAP_NAMES]).toEqual([...BACKFILL_OVERLAPS]);
  });

  it('checks the name, in the request as in its stored form', () => {
    const ok = checkBackfillInput({ from: FROM, to: TO, overlap: 'bufferAll' }, CLI_FIELDS);
    expect(ok.problems).toBeUndefined();
    expect(ok).toMatchObject({ input: { overlap: 'bufferAll' } });
    const bad = checkBackfillInput({ from: FROM, to: TO, overlap: 'allow' }, CLI_FIELDS);
    expect(bad.problems?.map((p) => p.message)).toEqual([
      '--overlap must be one of allowAll, skip, bufferOne, bufferAll, cancelOther, terminateOther, got "allow"',
    ]);
    expect(checkBackfillInput({ from: FROM, to: TO, overlap: 3 }, API_FIELDS).problems?.map((p) => p.path)).toEqual(['overlap']);
    const request = { id: 'r', entry: 'e', fromMs: 1, toMs: 2, limit: 10, unrecorded: false, at: 3, overlap: 'skip' as const };
    expect(decodeBackfillRequest(encodeBackfillRequest(request))).toEqual(request);
    expect(
      decodeBackfillRequest(JSON.stringify({ id: 'r', entry: 'e', from: 1, to: 2, limit: 1, at: 3, overlap: 'nope' })),
    ).toBeUndefined();
  });

  it('refuses a policy the deployment cannot apply, naming the field and the fix; the entry’s own goes out as allowAll there', () => {
    const plain = config(undefined);
    const followed = config('redis://localhost:6379/1');
    const e = entry('skip');
    expect(backfillPolicy({ overlap: 'bufferAll' }, e, plain, CLI_FIELDS).problem).toMatch(
      /^--overlap bufferAll needs to know when the entry's previous run finished: set resultBackend .* or use --overlap allowAll$/,
    );
    expect(backfillPolicy({}, e, plain, CLI_FIELDS)).toEqual({ policy: 'allowAll' });
    expect(backfillPolicy({ overlap: 'allowAll' }, e, plain, CLI_FIELDS)).toEqual({ policy: 'allowAll' });
    expect(backfillPolicy({}, e, followed, API_FIELDS)).toEqual({ policy: 'skip' });
    const ignoring = entry('allow', true);
    expect(backfillPolicy({ overlap: 'skip' }, ignoring, followed, API_FIELDS).problem).toMatch(/^overlap skip needs the task's result/);
    const sqs = config('redis://localhost:6379/1', 'sqs://');
    expect(backfillPolicy({ overlap: 'cancelOther' }, e, sqs, CLI_FIELDS).problem).toMatch(/SQS broker does not carry/);
    expect(backfillPolicy({ overlap: 'bufferAll' }, e, sqs, CLI_FIELDS)).toEqual({ policy: 'bufferAll' });
  });

  it('takes the next step as each policy resolves a slot that comes due', () => {
    const step = (policy: Parameters<typeof paceStep>[0], inFlight: boolean, published = 0, kept = false): PaceStep =>
      paceStep(policy, { inFlight, published, kept });
    // skip: the first slot starts when nothing runs, every later one meets it running.
    expect(step('skip', false)).toEqual({ kind: 'first', then: 'hold' });
    expect(step('skip', true, 1)).toEqual({ kind: 'hold' });
    // bufferAll: each one waits for the run before.
    expect(step('bufferAll', false, 3)).toEqual({ kind: 'first', then: 'stop' });
    expect(step('bufferAll', true, 3)).toEqual({ kind: 'wait' });
    // bufferOne, nothing in flight: the first starts, the second is buffered, the rest skipped.
    expect(step('bufferOne', false)).toEqual({ kind: 'first', then: 'stop' });
    expect(step('bufferOne', true, 1)).toEqual({ kind: 'wait' });
    expect(step('bufferOne', false, 1)).toEqual({ kind: 'first', then: 'hold' });
    expect(step('bufferOne', false, 2)).toEqual({ kind: 'hold' });
    // bufferOne, a run in flight: the first is buffered (kept), the rest skipped; one run in all.
    expect(step('bufferOne', true)).toEqual({ kind: 'keep' });
    expect(step('bufferOne', true, 0, true)).toEqual({ kind: 'wait' });
    expect(step('bufferOne', false, 0, true)).toEqual({ kind: 'first', then: 'hold' });
    expect(step('bufferOne', false, 1, true)).toEqual({ kind: 'hold' });
    // cancelOther, terminateOther: each slot replaces the one not started yet: the last runs.
    expect(step('cancelOther', true)).toEqual({ kind: 'last' });
    expect(step('terminateOther', false)).toEqual({ kind: 'last' });
  });
});
