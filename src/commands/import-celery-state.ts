/**
 * `beat import celery --schedule-file`: celery beat's last runs (its schedule file, read by the
 * dump script) adopted into the state of the deployment whose config holds the imported entries,
 * through the cut-over adoption every source uses (src/redis/seed-states.ts: where tsbeat has no
 * state of an entry, or an older one by slot), so that each entry's first slot under tsbeat is
 * the one celery beat would have sent next: not earlier, not later, not twice.
 */
import { shown } from '../base/errors.js';
import { parseEntryDefinition } from '../config/entry-definition.js';
import { entryScopeOf } from '../config/resolve.js';
import type { CeleryLastRun } from '../importers/celery-schedule-file.js';
import type { SeedState } from '../ports/seeds.js';
import { schedulerKeys } from '../redis/keys.js';
import { seedStates } from '../redis/seed-states.js';
import { withControl } from './control-open.js';
import type { Io } from './io.js';

/**
 * Writes `runs` into the state of the deployment `deployment.config` describes (its Redis:
 * `deployment.broker`, else as for beat entries); `imported` holds the entries as written, by name.
 */
export async function adoptCeleryLastRuns(
  io: Io,
  deployment: { readonly config: string; readonly broker?: string | undefined },
  runs: readonly CeleryLastRun[],
  imported: Readonly<Record<string, unknown>>,
  scheduleFile: string,
): Promise<void> {
  await withControl(io, 'import celery', deployment, async (control) => {
    const { config } = control;
    const fileNames = new Set(config.entries.map((e) => e.name));
    const seeds: SeedState[] = [];
    for (const run of runs) {
      if (!fileNames.has(run.name)) {
        io.err(`beat import celery: ${shown(run.name)} is not an entry of ${control.source}: its last run is not carried over`);
        continue;
      }
      const parsed = parseEntryDefinition(imported[run.name]);
      seeds.push({
        name: run.name,
        lastRunMs: run.lastRunMs,
        runCount: run.runCount,
        ...(run.anchor ? { anchor: true } : {}),
        ...(parsed.ok ? { entry: parsed.entry } : {}),
      });
    }
    const written = await seedStates(control.redis, schedulerKeys(config.state.prefix, config.name), seeds, entryScopeOf(config));
    const kept = seeds.length - written;
    io.err(
      `beat import celery: celery beat's last runs of ${written} entr${written === 1 ? 'y' : 'ies'} taken from ${scheduleFile} into deployment ${config.name}: each runs first when celery beat would have run it next${kept === 0 ? '' : `; ${kept} kept tsbeat's own newer runs`}`,
    );
  });
}
