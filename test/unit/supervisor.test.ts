/**
 * The supervisor of leadership changes (src/service/supervisor.ts) against a fake leadership, clock
 * guard, state and control store: sessions start on a won lock and stop on a lost one, one change at
 * a time, reloads land between two sessions, and failures are logged under their own events. The
 * schedule's only entry is due in an hour, so no session publishes anything.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { fingerprintFields } from '../../src/control/fingerprint.js';
import type { ConfigFingerprint } from '../../src/control/fingerprint.js';
import { EVENTS } from '../../src/base/log-events.js';
import { createLogger } from '../../src/base/log.js';
import type { EntryState, StateStore } from '../../src/ports/state.js';
import { NO_EVENTS } from '../../src/ports/events.js';
import type { LeadershipOwner } from '../../src/redis/leadership.js';
import { Runner } from '../../src/runtime/runner.js';
import type { RuntimeEntries } from '../../src/runtime/entry-catalog.js';
import { Supervisor } from '../../src/service/supervisor.js';

const TOKEN = 'token-1';
const hourly = (names: readonly string[]) =>
  parseConfig(
    { name: 'supervised', beatSchedule: Object.fromEntries(names.map((n) => [n, { task: `t.${n}`, schedule: 3600 }])) },
    'supervisor.test',
  );

const supervisors: Supervisor[] = [];
afterEach(async () => {
  await Promise.all(supervisors.splice(0).map((s) => s.stop()));
  vi.restoreAllMocks();
});

function setup(options: { load?: StateStore['load']; names?: readonly string[]; catalog?: RuntimeEntries } = {}) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: { write: (text: string) => void lines.push(JSON.parse(text) as Record<string, unknown>) },
  });
  const said: unknown[][] = [];
  let owner: LeadershipOwner | undefined;
  const loads: string[][] = [];
  const state: StateStore = {
    load:
      options.load ??
      (async (names, nowMs) => {
        loads.push([...names]);
        return new Map<string, EntryState>(names.map((name) => [name, { seenMs: nowMs, runCount: 0 }]));
      }),
  };
  const supervisor = new Supervisor({
    config: hourly(options.names ?? ['a']),
    ...(options.catalog === undefined ? {} : { catalog: options.catalog }),
    logger,
    clock: { now: () => Date.now() },
    messageEnv: { origin: 'gen1@unit', replyTo: '00000000-0000-4000-8000-000000000000' },
    dispatcher: { dispatch: () => Promise.reject(new Error('nothing is due')) },
    triggers: { publishTrigger: () => Promise.reject(new Error('no manual runs here')) },
    state,
    control: {
      paused: async () => new Set<string>(),
      pendingTriggers: async () => [],
      discardTrigger: async () => undefined,
      updateLeaderFingerprint: async (token: string, fingerprint: ConfigFingerprint) => {
        said.push(['fingerprint', token, fingerprint.entryNames]);
        return true;
      },
    },
    leadership: {
      start: async (o: LeadershipOwner) => {
        owner = o;
      },
      stop: async () => void said.push(['leadership.stop']),
      relinquish: (reason: string) => void said.push(['relinquish', reason]),
      currentLease: () => ({ token: TOKEN, publishUntil: Number.POSITIVE_INFINITY }),
      leaseToken: () => TOKEN,
    },
    clockGuard: {
      watch: () => void said.push(['clock.watch']),
      unwatch: () => void said.push(['clock.unwatch']),
      reportAhead: () => 'ahead',
    },
    events: { ...NO_EVENTS, leadershipChanged: (leading) => void said.push(['leading', leading]) },
  });
  supervisors.push(supervisor);
  const lead = (): LeadershipOwner => {
    if (owner === undefined) throw new Error('not campaigning');
    return owner;
  };
  return { supervisor, lines, said, loads, lead };
}

describe('Supervisor', () => {
  it('starts a session when the lock is won and stops it when the lock is lost, and says so', async () => {
    const { supervisor, said, loads, lead, lines } = setup();
    await supervisor.campaign();
    expect(said).toEqual([['leading', false]]);
    expect(supervisor.leading).toBe(false);

    lead().onLead({ token: TOKEN, publishUntil: Number.POSITIVE_INFINITY });
    await vi.waitFor(() => expect(supervisor.runner).toBeDefined());
    expect(loads).toEqual([['a']]);
    lead().onLose('lost');
    await vi.waitFor(() =>
      expect(lines.filter((l) => l['event'] === EVENTS.standby).map((l) => l['msg'])).toEqual([
        'campaigning for leadership',
        'standing by',
      ]),
    );
    expect(supervisor.leading).toBe(false);
    expect(said).toEqual([['leading', false], ['leading', true], ['clock.watch'], ['leading', false], ['clock.unwatch']]);
  });

  it('applies changes one at a time, in order: a lock won, lost and won again at once stops the first session (its state slow to load) before the second loads', async () => {
    const order: string[] = [];
    const stopRunner = Object.getOwnPropertyDescriptor(Runner.prototype, 'stop')?.value as (this: Runner) => Promise<void>;
    vi.spyOn(Runner.prototype, 'stop').mockImplementation(async function (this: Runner) {
      await stopRunner.call(this);
      order.push('stopped');
    });
    let loads = 0;
    const { supervisor, lead } = setup({
      load: async (names, nowMs) => {
        loads += 1;
        if (loads === 1) await new Promise((resolve) => setTimeout(resolve, 50));
        order.push(`loaded ${loads}`);
        return new Map<string, EntryState>(names.map((name) => [name, { seenMs: nowMs, runCount: 0 }]));
      },
    });
    await supervisor.campaign();
    lead().onLead({ token: TOKEN, publishUntil: Number.POSITIVE_INFINITY });
    lead().onLose('lost');
    lead().onLead({ token: TOKEN, publishUntil: Number.POSITIVE_INFINITY });
    await vi.waitFor(() => expect(order).toHaveLength(3));
    expect(order).toEqual(['loaded 1', 'stopped', 'loaded 2']);
    await vi.waitFor(() => expect(supervisor.runner).toBeDefined());
    expect(supervisor.leading).toBe(true);
  });

  it('reloads between two sessions: the new schedule runs, and the leader record gets its fingerprint under the lease token', async () => {
    const { supervisor, said, loads, lead, lines } = setup();
    await supervisor.campaign();
    expect(lead().leaderFields?.()).toEqual(fingerprintFields(supervisor.fingerprint));
    lead().onLead({ token: TOKEN, publishUntil: Number.POSITIVE_INFINITY });
    await vi.waitFor(() => expect(supervisor.runner).toBeDefined());
    const before = supervisor.runner;

    expect(await supervisor.reload(hourly(['a', 'b']))).toBe(true);
    expect(supervisor.runner).not.toBe(before);
    expect(supervisor.config.entries.map((e) => e.name)).toEqual(['a', 'b']);
    expect(loads).toEqual([['a'], ['a', 'b']]);
    expect(said.filter(([what]) => what === 'fingerprint')).toEqual([['fingerprint', TOKEN, ['a', 'b']]]);
    expect(lead().leaderFields?.()).toEqual(fingerprintFields(supervisor.fingerprint));
    expect(supervisor.fingerprint.entryNames).toEqual(['a', 'b']);
    expect(lines.find((l) => l['event'] === EVENTS.reload)).toMatchObject({ entries: 2 });
  });

  it('a reload while standing by only changes the config: no session starts and no leader record is written', async () => {
    const { supervisor, said, loads } = setup();
    await supervisor.campaign();
    expect(await supervisor.reload(hourly(['b']))).toBe(true);
    expect(supervisor.leading).toBe(false);
    expect(loads).toEqual([]);
    expect(said.filter(([what]) => what === 'fingerprint')).toEqual([]);
    expect(supervisor.config.entries.map((e) => e.name)).toEqual(['b']);
  });

  it('stands by and gives the lock back when the stored state cannot be loaded, logged as beat.state.load_failed', async () => {
    const { supervisor, said, lead, lines } = setup({ load: () => Promise.reject(new Error('WRONGTYPE')) });
    await supervisor.campaign();
    lead().onLead({ token: TOKEN, publishUntil: Number.POSITIVE_INFINITY });
    await vi.waitFor(() => expect(said).toContainEqual(['relinquish', 'state could not be loaded']));
    expect(supervisor.leading).toBe(false);
    expect(lines.find((l) => l['event'] === EVENTS.stateLoadFailed)).toMatchObject({
      level: 'error',
      msg: 'could not load the schedule state; standing by',
      err: expect.objectContaining({ message: 'WRONGTYPE' }),
    });
    expect(lines.filter((l) => l['event'] === EVENTS.leadershipTransitionFailed)).toEqual([]);
  });

  it('a lock won while stopping starts no session; stop ends the session first, then leadership', async () => {
    const { supervisor, said, loads, lead } = setup();
    await supervisor.campaign();
    lead().onLead({ token: TOKEN, publishUntil: Number.POSITIVE_INFINITY });
    await vi.waitFor(() => expect(supervisor.runner).toBeDefined());
    const stopped = supervisor.stop();
    expect(supervisor.stopping).toBe(true);
    lead().onLead({ token: TOKEN, publishUntil: Number.POSITIVE_INFINITY });
    await stopped;
    expect(supervisor.leading).toBe(false);
    expect(loads).toHaveLength(1);
    expect(said.slice(-2)).toEqual([['leadership.stop'], ['clock.unwatch']]);
  });
});
