/**
 * The control verbs (src/operations/control-verbs.ts) on an object-literal control store: the audit
 * identity each store call gets is the caller's, and a manual run's wait ends as the leader's answer
 * says (published, refused with why) or, past the wait, withdrawn for the CLI and left queued for
 * the API and the page; a run the leader took while it was being withdrawn is not called withdrawn.
 */
import { describe, expect, it } from 'vitest';
import { awaitRuns, queueTriggers, setPaused } from '../../src/operations/control-verbs.js';
import type { ControlStores } from '../../src/operations/control-verbs.js';
import type { AuditContext } from '../../src/redis/audit-log.js';

function fakeControl(taken: Map<string, string>, cancellable: boolean): ControlStores & { audits: AuditContext[] } {
  const audits: AuditContext[] = [];
  return {
    audits,
    setPaused: async (_entry, _paused, _nowMs, audit) => {
      audits.push(audit ?? { who: 'none' });
      return true;
    },
    setPausedMany: async (entries, _paused, _nowMs, _selector, audit) => {
      audits.push(audit ?? { who: 'none' });
      return [...entries];
    },
    requestTriggers: async (requests, _selector, audit) => {
      audits.push(audit ?? { who: 'none' });
      return requests.map((r) => JSON.stringify(r));
    },
    wasTriggered: async (taskId) => taken.has(taskId),
    triggerRefusal: async (taskId) => {
      const value = taken.get(taskId);
      return value === 'published' ? undefined : value;
    },
    cancelTrigger: async () => cancellable,
    deploymentStop: async () => undefined,
    stopDeployment: async (nowMs, audit) => {
      audits.push(audit ?? { who: 'none' });
      return { stop: { by: audit?.who ?? '', atMs: nowMs }, changed: true };
    },
    resumeDeployment: async () => undefined,
  };
}

const BY = { who: 'alice@host', note: 'why' };

describe('the control verbs', () => {
  it("hand every store call the caller's identity and note, for the audit event written with the change", async () => {
    const control = fakeControl(new Map(), true);
    expect(await setPaused(control, BY, { entry: 'a' }, true, 1)).toEqual({ entry: 'a', paused: true, changed: true });
    expect(await setPaused(control, BY, { selector: 'team=x', entries: ['a', 'b'] }, false, 1)).toEqual({
      selector: 'team=x',
      entries: ['a', 'b'],
      changed: ['a', 'b'],
      paused: false,
    });
    expect(await setPaused(control, BY, { all: true }, true, 1000)).toMatchObject({
      stopped: { by: 'alice@host', since: new Date(1000).toISOString() },
      changed: true,
    });
    await queueTriggers(control, BY, { entry: 'a' }, 1);
    expect(control.audits).toEqual(Array.from({ length: 4 }, () => ({ who: 'alice@host', note: 'why' })));
  });

  it('ends a manual run as published or refused with why, and past the wait withdraws it (CLI) or leaves it queued (API)', async () => {
    const taken = new Map<string, string>();
    const control = fakeControl(taken, true);
    const runs = await queueTriggers(control, BY, { selector: 'team=x', entries: ['ok', 'no', 'late'] }, 1);
    taken.set(runs[0]!.taskId, 'published');
    taken.set(runs[1]!.taskId, 'its queue key holds a hash');
    expect((await awaitRuns(control, runs, { waitMs: 0, withdraw: true })).map((r) => [r.entry, r.state, r.refusal])).toEqual([
      ['ok', 'published', undefined],
      ['no', 'refused', 'its queue key holds a hash'],
      ['late', 'withdrawn', undefined],
    ]);
    expect((await awaitRuns(control, runs.slice(2), { waitMs: 0, withdraw: false }))[0]?.state).toBe('queued');
  });

  it('does not call withdrawn a run the leader took while it was being withdrawn', async () => {
    const taken = new Map<string, string>();
    const control = fakeControl(taken, false);
    const runs = await queueTriggers(control, BY, { entry: 'a' }, 1);
    // The withdrawal finds the request gone: the leader claimed it, and confirms it now.
    control.cancelTrigger = async () => {
      taken.set(runs[0]!.taskId, 'published');
      return false;
    };
    expect(await awaitRuns(control, runs, { waitMs: 0, withdraw: true })).toEqual([
      { entry: 'a', taskId: runs[0]!.taskId, state: 'published' },
    ]);
  });
});
