/**
 * `beat run --dry-run`: real-time scheduling, in-memory state, one JSON line per message on `write`.
 * A django source's rows run too, followed as `beat run` follows them (a catalog of its changes),
 * but read-only: the source is opened with writeBack off and no write-back sink is wired, so a dry
 * run never writes last_run_at, total_run_count or a one-off's enabled to the database.
 */
import { queueNameContextOf } from '../config/queue-names.js';
import { entryScopeOf } from '../config/resolve.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { openDjangoEntries } from '../django/tenants.js';
import type { DjangoEntries } from '../django/source.js';
import { DryRunDispatcher } from '../publish/dry-run-dispatcher.js';
import { MemoryStateStore } from '../redis/state-store.js';
import { EntryCatalog } from '../runtime/entry-catalog.js';
import { Runner } from '../runtime/runner.js';
import { reloadableConfig } from './reload.js';
import { deferred, messageEnv, wallClock } from './running.js';
import type { RunningService, ServiceOptions } from './running.js';

export async function startDryRun(options: ServiceOptions, write: (line: string) => void): Promise<RunningService> {
  const clock = options.clock ?? wallClock;
  const make = (config: ResolvedConfig, state: MemoryStateStore, dispatcher: DryRunDispatcher): Runner =>
    new Runner({
      config,
      dispatcher,
      state,
      clock,
      logger: options.logger,
      messageEnv: env,
      lease: () => 'dry-run',
      onFenced: () => undefined,
    });
  const env = messageEnv();
  const state = new MemoryStateStore();
  const dispatcher = new DryRunDispatcher(write);
  let config = options.config;
  const djangoSettings = config.sources?.django;
  const django: DjangoEntries | undefined =
    djangoSettings === undefined
      ? undefined
      : openDjangoEntries({ ...djangoSettings, writeBack: false }, options.logger, () => clock.now());
  const catalog =
    django === undefined
      ? undefined
      : new EntryCatalog({
          sources: [django],
          logger: options.logger,
          intervalMs: config.maxIntervalMs,
          defaults: { ...entryScopeOf(config), alerts: config.alerts, calendars: config.calendars },
          staticNames: new Set(config.entries.map((e) => e.name)),
          queueNames: queueNameContextOf(config),
        });
  // The first read waits for the database (as a leader's start does); failures are logged and retried.
  await catalog?.load();
  catalog?.start();
  const begin = async (): Promise<Runner> => {
    const next = make(config, state, dispatcher);
    catalog?.listen((changed, removed) => next.applyChanges(changed, removed));
    await next.start(catalog?.entries() ?? []);
    return next;
  };
  let runner = await begin();
  const done = deferred();
  return {
    done: done.promise,
    instanceId: options.instanceId,
    httpAddress: undefined,
    reload: async (next) => {
      config = reloadableConfig(config, next, options.logger);
      catalog?.listen(undefined);
      await runner.stop();
      await catalog?.reconfigure(
        { ...entryScopeOf(config), alerts: config.alerts, calendars: config.calendars },
        new Set(config.entries.map((e) => e.name)),
      );
      runner = await begin();
      return true;
    },
    stop: async () => {
      catalog?.listen(undefined);
      await runner.stop();
      await catalog?.stop();
      await django?.close();
      done.resolve();
    },
  };
}
