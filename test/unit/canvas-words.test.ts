/**
 * A canvas entry shown as a canvas (config/canvas-words.ts), not as its first task alone: in `beat
 * check`'s table, in `beat status` (its canvas field, the TASK column of --wide) and in the
 * dashboard's rows, the same words.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { buildStatus } from '../../src/control/status.js';
import { buildIndex, pageRow } from '../../src/dashboard/entry-rows.js';
import { runCli } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tsbeat-canvas-words-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const settings = {
  timezone: 'UTC',
  resultBackend: 'redis://127.0.0.1:6379/1',
  beatSchedule: {
    nightly: { schedule: 60, chain: [{ task: 'proj.fetch' }, { task: 'proj.aggregate' }, { task: 'proj.publish' }] },
    plain: { task: 'proj.cleanup', schedule: 60, link: [{ task: 'proj.notify' }] },
    regions: {
      schedule: 60,
      chain: [
        { task: 'proj.prepare' },
        { chord: { header: [{ task: 'proj.region' }, { task: 'proj.region' }], body: { task: 'proj.merge' } } },
      ],
    },
    refresh: {
      schedule: 60,
      group: [
        { task: 'proj.refresh' },
        { task: 'proj.refresh' },
        { chain: [{ task: 'proj.refresh' }, { task: 'proj.check' }] },
        { task: 'proj.late' },
      ],
    },
    totals: { schedule: 60, chord: { header: [{ task: 'proj.count' }, { task: 'proj.count' }], body: { task: 'proj.total' } } },
  },
};

const words: Record<string, string> = {
  nightly: 'chain: proj.fetch → proj.aggregate → proj.publish',
  plain: 'proj.cleanup',
  regions: 'chain: proj.prepare → chord(2) → proj.merge',
  refresh: 'group(4): proj.refresh, proj.refresh, chain(proj.refresh → proj.check), …',
  totals: 'chord(2): proj.count, proj.count → proj.total',
};

describe('a canvas entry in words', () => {
  it('beat check shows a chain, group or chord as one, not as its first task', async () => {
    const file = join(dir, 'canvas.json');
    writeFileSync(file, JSON.stringify(settings));
    // --wide: every cell whole (without it the TASK column is cut to the terminal's width).
    const r = await runCli(['check', '--config', file, '--wide'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    for (const [name, text] of Object.entries(words))
      expect(r.stdout).toMatch(new RegExp(`^${name} +${text.replace(/[()|.*+?]/g, '\\$&')} `, 'm'));
  });

  it('beat status and the dashboard say the same words', async () => {
    const config = parseConfig(settings, 'test');
    const now = Date.parse('2027-01-01T00:00:00Z');
    const status = buildStatus({
      config,
      states: new Map(),
      paused: new Set(),
      leader: undefined,
      self: { instance: 't', role: 'cli' },
      nowMs: now,
    });
    const index = await buildIndex({ config, entries: config.entries, invalid: [] });
    for (const entry of status.entries) {
      const expected = words[entry.name] ?? '';
      expect(entry.canvas ?? entry.task, entry.name).toBe(expected);
      const row = pageRow(index.byName.get(entry.name)!, entry, new Set());
      expect(row.view?.canvas ?? row.view?.task, entry.name).toBe(expected);
    }
    // The task field stays the first task the message names, for scripts that read it.
    expect(status.entries.find((e) => e.name === 'nightly')?.task).toBe('proj.fetch');
  });
});
