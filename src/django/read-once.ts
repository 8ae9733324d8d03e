/**
 * The django source read once, for the commands that show a schedule without running it
 * (`beat next`): every row, resolved as `beat run` would resolve it, and the rows that cannot run
 * with their problems. Read-only: no write-back.
 */
import type { ConfigProblem } from '../base/errors.js';
import type { DjangoSourceSettings } from '../config/django-source-schema.js';
import { resolveEntry } from '../config/resolve.js';
import type { ResolvedEntry } from '../config/resolve.js';
import type { Logger } from '../base/log.js';
import { DjangoSource } from './source.js';

export interface DjangoReading {
  readonly entries: readonly ResolvedEntry[];
  readonly problems: readonly { readonly name: string; readonly problems: readonly ConfigProblem[] }[];
}

export async function readDjangoEntries(settings: DjangoSourceSettings, defaultZone: string, logger: Logger): Promise<DjangoReading> {
  const source = new DjangoSource({ settings: { ...settings, writeBack: false }, logger });
  try {
    const { entries } = await source.load();
    const resolved: ResolvedEntry[] = [];
    const problems: { name: string; problems: readonly ConfigProblem[] }[] = [];
    for (const sourced of entries) {
      if (sourced.entry === undefined) problems.push({ name: sourced.name, problems: sourced.problems });
      else resolved.push(resolveEntry(sourced.name, sourced.entry, defaultZone, 'django'));
    }
    return { entries: resolved, problems };
  } finally {
    await source.close();
  }
}
