/** `beat run --dry-run`: real-time scheduling, in-memory state, one JSON line per message on `write`. */
import type { ResolvedConfig } from '../config/resolve.js';
import { DryRunDispatcher } from '../publish/dry-run-dispatcher.js';
import { MemoryStateStore } from '../redis/state-store.js';
import { Runner } from '../runtime/runner.js';
import { reloadableConfig } from './reload.js';
import { deferred, messageEnv, wallClock } from './running.js';
import type { RunningService, ServiceOptions } from './running.js';

export async function startDryRun(options: ServiceOptions, write: (line: string) => void): Promise<RunningService> {
  const make = (config: ResolvedConfig, state: MemoryStateStore, dispatcher: DryRunDispatcher): Runner =>
    new Runner({
      config,
      dispatcher,
      state,
      clock: options.clock ?? wallClock,
      logger: options.logger,
      messageEnv: env,
      lease: () => 'dry-run',
      onFenced: () => undefined,
    });
  const env = messageEnv();
  const state = new MemoryStateStore();
  const dispatcher = new DryRunDispatcher(write);
  let config = options.config;
  let runner = make(config, state, dispatcher);
  await runner.start();
  const done = deferred();
  return {
    done: done.promise,
    instanceId: options.instanceId,
    httpAddress: undefined,
    reload: async (next) => {
      config = reloadableConfig(config, next, options.logger);
      await runner.stop();
      runner = make(config, state, dispatcher);
      await runner.start();
      return true;
    },
    stop: async () => {
      await runner.stop();
      done.resolve();
    },
  };
}
