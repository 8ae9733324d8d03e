/**
 * The speed-ups of the publish path, each of which can be turned off for a measured ablation
 * (bench/lib/ablation.mjs): the one place that reads the switch. Not a setting for users: every
 * speed-up is on unless the environment variable ENV.speedupsOff names it, and with any of them off
 * the messages on the wire are the same (test/integration/publish-encodings.test.ts), only later.
 */
import { ENV } from './env.js';

export const SPEEDUP_NAMES = ['timer', 'repr', 'warmup'] as const;
export type Speedup = (typeof SPEEDUP_NAMES)[number];

/** Which speed-ups are on, from a comma-separated list of the ones turned off; an unknown name is an error. */
export function speedupsFrom(off: string | undefined): Readonly<Record<Speedup, boolean>> {
  const names = (off ?? '').split(',').filter((name) => name !== '');
  const unknown = names.filter((name) => !(SPEEDUP_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0)
    throw new Error(`${ENV.speedupsOff}="${off ?? ''}": unknown speed-up ${unknown.join(', ')}; name some of ${SPEEDUP_NAMES.join(', ')}`);
  return Object.fromEntries(SPEEDUP_NAMES.map((name) => [name, !names.includes(name)])) as Record<Speedup, boolean>;
}

export const SPEEDUPS = speedupsFrom(process.env[ENV.speedupsOff]);
