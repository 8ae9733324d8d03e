/**
 * Celery's `task_routes` patterns: an exact task name, a glob (fnmatch: `*`, `?`, `[...]`), or a
 * regular expression between slashes. Compiled once; matching a task name is then one test.
 */
import type { RouteInput, TaskRoutesInput } from './options-schema.js';
import { compilePattern } from './task-pattern.js';

export interface Route {
  readonly queue?: string;
  readonly exchange?: string;
  readonly exchangeType?: 'direct' | 'topic' | 'fanout';
  readonly routingKey?: string;
  readonly priority?: number;
}

export interface CompiledRoute {
  /** The pattern as written, for logs. */
  readonly pattern: string;
  readonly matches: (task: string) => boolean;
  readonly route: Route;
}

function toRoute(input: RouteInput): Route {
  return typeof input === 'string' ? { queue: input } : { ...input };
}

export function compileRoutes(input: TaskRoutesInput | undefined): CompiledRoute[] {
  if (input === undefined) return [];
  const maps = Array.isArray(input) ? input : [input];
  return maps.flatMap((map) =>
    Object.entries(map).map(([pattern, route]) => ({ pattern, matches: compilePattern(pattern), route: toRoute(route) })),
  );
}
