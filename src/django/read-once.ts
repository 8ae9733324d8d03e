/**
 * The django source read once, read-only (no write-back, no adoption): `openDjangoOnce` for the
 * commands that show or name entries (through commands/runtime-view.ts, with the other sources),
 * `readDjangoEntries` for `beat import django` (every row, with the rows read). A database that
 * cannot be read is a BeatError naming where its URL came from, and the fix.
 */
import { BeatError, ErrorCode } from '../base/errors.js';
import type { ConfigProblem } from '../base/errors.js';
import type { DjangoSourceSettings } from '../config/django-source-schema.js';
import { resolveEntry } from '../config/resolve.js';
import type { EntryScope, ResolvedEntry } from '../config/resolve.js';
import { silentLogger } from '../base/log.js';
import { sourcedDefinition } from '../ports/entry-source.js';
import type { EntrySource } from '../ports/entry-source.js';
import { djangoDbFailure } from './db.js';
import type { TaskRow } from './row-entry.js';
import { openDjangoEntries } from './tenants.js';

export interface DjangoReading {
  readonly entries: readonly ResolvedEntry[];
  readonly problems: readonly { readonly name: string; readonly problems: readonly ConfigProblem[] }[];
  /** Every row read, with its definition when it maps to one. */
  readonly rows: readonly TaskRow[];
}

/**
 * The django source for one read by the commands that show or name entries (commands/runtime-view.ts):
 * read-only (no write-back, no adoption of last runs); a database that cannot be read is a
 * BeatError naming `where` (the place the URL came from) and the fix.
 */
export function openDjangoOnce(settings: DjangoSourceSettings, where: string): EntrySource & { close(): Promise<void> } {
  const source = openDjangoEntries({ ...settings, writeBack: false }, silentLogger);
  return {
    origin: source.origin,
    load: () =>
      source.load().catch((error: unknown) => {
        throw new BeatError(ErrorCode.DjangoDatabase, djangoDbFailure(error, where, settings.url, settings.tablePrefix), { cause: error });
      }),
    changesSince: (cursor) => source.changesSince(cursor),
    close: () => source.close(),
  };
}

/** `where`: the place the URL came from, named in the error (sources.django.url, --django-url, $BEAT_DJANGO_URL). */
export async function readDjangoEntries(settings: DjangoSourceSettings, scope: EntryScope, where: string): Promise<DjangoReading> {
  const source = openDjangoEntries({ ...settings, writeBack: false }, silentLogger);
  try {
    let loaded;
    try {
      loaded = await source.load();
    } catch (error) {
      throw new BeatError(ErrorCode.DjangoDatabase, djangoDbFailure(error, where, settings.url, settings.tablePrefix), { cause: error });
    }
    const resolved: ResolvedEntry[] = [];
    const problems: { name: string; problems: readonly ConfigProblem[] }[] = [];
    for (const sourced of loaded.entries) {
      const entry = sourcedDefinition(sourced);
      if (entry === undefined) problems.push({ name: sourced.name, problems: sourced.problems ?? [] });
      else resolved.push(resolveEntry(sourced.name, entry, scope, 'django'));
    }
    return { entries: resolved, problems, rows: source.rowsRead() };
  } finally {
    await source.close();
  }
}
