/**
 * The runtime entries as a replica's catalog holds them (src/runtime/entry-catalog.ts), read once
 * by the commands that show or name entries (`beat status`, `next`, `history`, `trigger`, `pause`,
 * `resume`, `backfill`): the store, RedBeat's entries and django's rows, opened as `beat run`
 * opens them (src/redbeat/wiring.ts, src/django/read-once.ts), in its order, with its resolution
 * and refusals (invalid, a name the config file or an earlier source takes), so that a command
 * names what `/status` names. Read-only: no write-back, no adoption of last runs. (RedBeat's
 * source marks an entry it sees for the first time with its incarnation, as beat run's first look
 * would: src/redis/lua/redbeat-digest.lua.)
 */
import type { RedisClient } from '../redis/connect.js';
import { BeatError, ErrorCode, errorMessage, problemsInline, shown } from '../base/errors.js';
import { silentLogger } from '../base/log.js';
import type { BrokerOverride } from '../config/connection-checks.js';
import { maskUrl } from '../config/redis-url.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import type { EntrySource } from '../ports/entry-source.js';
import type { RedisEntryStore } from '../redis/entry-store.js';
import { runtimeSources } from '../runtime/entry-catalog.js';
import type { EntryProblem } from '../runtime/entry-catalog.js';
import { resolveOnce } from '../runtime/resolve-once.js';
import type { OnceView } from '../runtime/resolve-once.js';
import type { Control } from './control-open.js';
import { djangoWhere } from './django-read.js';

export type RuntimeView = OnceView;

export interface RuntimeViewOptions {
  /** The deployment's store (the commands that open its Redis); none: the store's entries are not read (its Redis is away). */
  readonly store?: RedisEntryStore;
  /** The state Redis's connection and URL, shared with RedBeat's source when its keys are there. */
  readonly state?: { readonly client: RedisClient; readonly url: string };
  /** --django-url or $BEAT_DJANGO_URL, already applied to config.sources.django; named in a failure. */
  readonly django?: BrokerOverride | undefined;
  /** false: RedBeat's entries are not read (`beat check`, which reads no Redis). */
  readonly redbeat?: boolean;
}

/**
 * Reads every runtime source the config has once. A source that cannot be read is in `failures`
 * as a BeatError naming where it is and the fix (its entries are missing): the caller says so or
 * fails. The database clients (pg, mysql2) and RedBeat's code load only when the config has them.
 */
export async function readRuntimeView(config: ResolvedConfig, options: RuntimeViewOptions): Promise<RuntimeView> {
  const closers: (() => Promise<unknown>)[] = [];
  try {
    const redbeat =
      config.sources?.redbeat === undefined || options.redbeat === false ? undefined : await openRedBeat(config, options, closers);
    let django: EntrySource | undefined;
    const djangoSettings = config.sources?.django;
    if (djangoSettings !== undefined) {
      const { openDjangoOnce } = await import('../django/read-once.js');
      const opened = openDjangoOnce(djangoSettings, djangoWhere(options.django));
      closers.push(() => opened.close());
      django = opened;
    }
    return await resolveOnce(config, runtimeSources({ store: options.store, redbeat, django }));
  } finally {
    await Promise.allSettled(closers.map((close) => close()));
  }
}

/** RedBeat's source, its own connection (if any) made by its first read as the commands connect; failures name its Redis. */
async function openRedBeat(
  config: ResolvedConfig,
  options: RuntimeViewOptions,
  closers: (() => Promise<unknown>)[],
): Promise<EntrySource | undefined> {
  const { openRedBeatSource } = await import('../redbeat/wiring.js');
  const { connectCommandClient } = await import('./deployment-redis.js');
  const opened = openRedBeatSource({ config, state: options.state?.client, stateUrl: options.state?.url ?? '', logger: silentLogger });
  if (opened === undefined) return undefined;
  const own = opened.client;
  if (own !== undefined) closers.push(async () => (await import('../redis/connect.js')).closeRedisClient(own));
  const failure = (error: unknown): BeatError =>
    error instanceof BeatError
      ? error
      : new BeatError(
          ErrorCode.RedisUnavailable,
          `cannot read RedBeat's entries at ${maskUrl(opened.url)} (sources.redbeat): ${errorMessage(error)}; check sources.redbeat.url, or broker.url when it has none`,
          { cause: error },
        );
  return {
    origin: opened.source.origin,
    load: async () => {
      try {
        if (own !== undefined) await connectCommandClient(own, opened.url, 'check sources.redbeat.url, or broker.url when it has none');
        return await opened.source.load();
      } catch (error) {
        throw failure(error);
      }
    },
    changesSince: (cursor) => opened.source.changesSince(cursor),
  };
}

/** Every runtime entry of the deployment `control` opened: its store's, RedBeat's and django's. */
export function readControlView(control: Control, django: BrokerOverride | undefined): Promise<RuntimeView> {
  return readRuntimeView(control.config, { store: control.store, state: { client: control.redis, url: control.stateUrl }, django });
}

/**
 * Every runtime entry of `config`'s deployment that can be read, for a command that shows the file's
 * entries without its Redis (`beat next`): a state Redis that cannot be reached or refuses the
 * deployment is a failure of the store's (its entries missing), and RedBeat's and django's are read
 * all the same. Of the deployment's stores only the entry store is opened (cli-loads.test.ts).
 */
export async function readReachableView(config: ResolvedConfig, django: BrokerOverride | undefined): Promise<RuntimeView> {
  const { openDeploymentRedis, entryStoreOf } = await import('./deployment-redis.js');
  const redis = await openDeploymentRedis(config).catch((error: unknown) => ({ away: error }));
  if ('away' in redis) {
    const view = await readRuntimeView(config, { django });
    return { ...view, failures: [{ origin: 'store', error: redis.away }, ...view.failures] };
  }
  try {
    return await readRuntimeView(config, { store: entryStoreOf(config, redis), state: { client: redis.client, url: redis.url }, django });
  } finally {
    await redis.close();
  }
}

/** The first source failure of `view`, thrown: a command that must see every entry (`beat check`, a bulk action). */
export function throwFailures(view: RuntimeView): void {
  const first = view.failures[0];
  if (first !== undefined) throw first.error;
}

/** "redbeat entry "x" does not run: schedule: …" */
export function problemLine(p: EntryProblem): string {
  return `${p.origin} entry ${shown(p.name)} does not run: ${problemsInline(p.problems)}`;
}

/** An entry that `view` holds under `name`, or the problem that keeps it from running. */
export function findRuntime(view: RuntimeView, name: string): { entry?: ResolvedEntry; problem?: EntryProblem } {
  const entry = view.entries.find((e) => e.name === name);
  if (entry !== undefined) return { entry };
  const problem = view.problems.find((p) => p.name === name);
  return problem === undefined ? {} : { problem };
}
