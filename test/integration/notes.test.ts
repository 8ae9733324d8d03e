/**
 * Notes with a pause, resume and trigger (`--note`): kept in Redis with the action, shown by `beat
 * status` (the pause's while paused, the last one of any action), logged with a manual run; a note
 * that cannot be one is refused with exit 2 before anything changes. A real `beat run` leader on a
 * private Redis.
 */
import { hostname, userInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { FAST_LOCK } from '../support/beat-process.js';
import { beatSuite } from '../support/beat-suite.js';
import { runBeatCli, uniqueName } from '../support/ops.js';

interface Noted {
  name: string;
  paused: boolean;
  pauseNote: { note: string; by: string; at: string } | null;
  lastNote: { action: string; note: string; by: string; at: string } | null;
}

/** Who the command line is recorded as: this user at this host (as the audit trail records it). */
const ME = `${userInfo().username}@${hostname()}`;
describe('notes with pause, resume and trigger', () => {
  const suite = beatSuite();
  const { fleet, dir } = suite;

  it('keeps each note with its action, shows it in beat status, and refuses a bad one', async () => {
    const name = uniqueName('notes');
    const keys = schedulerKeys('tsbeat', name);
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: suite.redis.url(0) },
      lock: FAST_LOCK,
      beatSchedule: { tick: { task: 'tsbeat_test.record', schedule: 3600 }, other: { task: 'tsbeat_test.record', schedule: 3600 } },
    });
    const beat = fleet.spawn({ config: file, label: 'leader' });
    await beat.waitForEvent(EVENTS.lockAcquired, 10_000);
    const status = async (): Promise<Map<string, Noted>> => {
      const run = await runBeatCli(['status', '--wide', '--config', file, '--json']);
      return new Map((JSON.parse(run.stdout) as { entries: Noted[] }).entries.map((e) => [e.name, e]));
    };

    expect(await runBeatCli(['pause', 'tick', '--config', file, '--note', 'database migration, back at 14:00'])).toMatchObject({
      code: 0,
      stdout: 'paused tick\n',
    });
    let tick = (await status()).get('tick');
    expect(tick).toMatchObject({
      paused: true,
      pauseNote: { note: 'database migration, back at 14:00', by: ME },
      lastNote: { action: 'pause', note: 'database migration, back at 14:00', by: ME },
    });
    expect((await status()).get('other')).toMatchObject({ pauseNote: null, lastNote: null });
    const table = await runBeatCli(['status', '--wide', '--config', file]);
    expect(table.stdout).toMatch(/\sNOTE\s*$/m);
    expect(table.stdout).toMatch(
      new RegExp(
        `^tick\\s.*\\spaused \\(${ME.replace(/[.$]/g, '\\$&')}: database migration, back at 14:00\\)(?:\\s+-){4}\\s+pause: database migration, back at 14:00\\s*$`,
        'm',
      ),
    );
    // The four outcome columns (task events are read by default) stand between STATE and NOTE, empty before a run.
    expect(table.stdout).toMatch(/^other\s.*\sactive(?:\s+-){4}\s+-\s*$/m);
    // Kept where the audit trail can pick it up: the notes hash, JSON with the action.
    expect(JSON.parse((await suite.client.hget(keys.notes, 'tick')) ?? 'null')).toMatchObject({
      action: 'pause',
      by: ME,
      at: expect.any(Number),
    });

    // A bad note changes nothing.
    const bad = await runBeatCli(['resume', 'tick', '--config', file, '--note', 'line one\nline two']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('beat resume: --note: a note must be one line without control characters');
    expect((await status()).get('tick')?.paused).toBe(true);
    const long = await runBeatCli(['trigger', 'tick', '--config', file, '--note', 'x'.repeat(501)]);
    expect(long.code).toBe(2);
    expect(long.stderr).toContain('beat trigger: --note: a note is at most 500 characters, got 501');

    expect((await runBeatCli(['resume', 'tick', '--config', file, '--note', 'migration done'])).code).toBe(0);
    tick = (await status()).get('tick');
    expect(tick).toMatchObject({ paused: false, pauseNote: null, lastNote: { action: 'resume', note: 'migration done' } });
    expect(await suite.client.hexists(keys.pauseNotes, 'tick')).toBe(0);

    const trigger = await runBeatCli(['trigger', 'tick', '--config', file, '--note', 'rerun for the monthly report']);
    expect(trigger.code).toBe(0);
    const id = /task id (\S+)/.exec(trigger.stdout)?.[1];
    const logged = await beat.waitForLog('the manual run with its note', (l) => l.event === EVENTS.trigger && l['id'] === id, 5_000);
    expect(logged['note']).toBe('rerun for the monthly report');
    expect((await status()).get('tick')?.lastNote).toMatchObject({ action: 'trigger', note: 'rerun for the monthly report' });
  });
});
