/**
 * The django source read once by the commands that show a schedule (`beat check`, `next`,
 * `status`): its rows resolved as `beat run` resolves them, and those that do not run with their
 * problems, a row named like a config-file entry among them (the file's entry runs, as in the
 * catalog). The `--django-url` option they share.
 */
import { problemsInline, shown } from '../base/errors.js';
import type { ConfigProblem } from '../base/errors.js';
import { ENV } from '../base/env.js';
import type { BrokerOverride } from '../config/connections.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import { nameTakenProblems } from '../runtime/name-holders.js';
import type { OptionHelps } from './command-spec.js';

export const djangoOption = {
  'django-url': {
    type: 'string',
    value: 'URL',
    help: `also read django-celery-beat's tables in this database (postgres://…
      or mysql://…; default: $${ENV.djangoUrl}, then sources.django.url)`,
  },
} as const satisfies OptionHelps;

export interface DjangoView {
  readonly entries: readonly ResolvedEntry[];
  readonly problems: readonly { readonly name: string; readonly origin: 'django'; readonly problems: readonly ConfigProblem[] }[];
}

/** Where sources.django.url came from, as the errors name it. */
export function djangoWhere(override: BrokerOverride | undefined): string {
  if (override === undefined) return 'sources.django.url';
  return override.origin === ENV.djangoUrl ? `$${ENV.djangoUrl}` : override.origin;
}

/** The config's django rows, read once (undefined without a django source); a database that cannot be read throws. */
export async function readDjangoView(config: ResolvedConfig, override: BrokerOverride | undefined): Promise<DjangoView | undefined> {
  const django = config.sources?.django;
  if (django === undefined) return undefined;
  // The database clients (pg, mysql2) load only for a config with a django source.
  const { readDjangoEntries } = await import('../django/read-once.js');
  const reading = await readDjangoEntries(django, config.timezone, djangoWhere(override));
  const fileNames = new Set(config.entries.map((e) => e.name));
  const taken = reading.entries.filter((e) => fileNames.has(e.name));
  const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return {
    entries: reading.entries.filter((e) => !fileNames.has(e.name)).sort(byName),
    problems: [
      ...reading.problems.map((p) => ({ ...p, origin: 'django' as const })),
      ...taken.map((e) => ({
        name: e.name,
        origin: 'django' as const,
        problems: nameTakenProblems({ file: true }),
      })),
    ].sort(byName),
  };
}

/** "django entry "x" does not run: schedule: …; args: …" */
export function djangoProblemLine(p: DjangoView['problems'][number]): string {
  return `django entry ${shown(p.name)} does not run: ${problemsInline(p.problems)}`;
}
