/**
 * Packages a process may never need, loaded when first used instead of at start-up: their module
 * code runs, and its objects stay in memory, only where they serve (pino-pretty when logging to a
 * terminal, astronomy-engine when a schedule is solar). Resolved from node_modules at run time,
 * as ioredis is, not bundled into dist/cli.js.
 */
// Renamed: the bundle's banner declares its own `createRequire` at the top of dist/cli.js.
import { createRequire as requireFrom } from 'node:module';

const requireAtRunTime = requireFrom(import.meta.url);

/** A getter that loads the CommonJS package `name` on its first call. */
export function loadOnFirstUse<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= requireAtRunTime(name) as T);
}
