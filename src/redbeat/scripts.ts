/** The Lua scripts on RedBeat's keys (src/redis/lua/redbeat-*.lua; see their headers), registered on a connection. */
import type { Redis } from 'ioredis';
import { scriptRegistrar } from '../redis/scripts.js';

export interface RedBeatScripts {
  redbeatDigest(numKeys: number, ...keysAndArgs: string[]): Promise<string[]>;
  redbeatMeta(numKeys: number, ...keysAndArgs: string[]): Promise<number>;
  redbeatLock(numKeys: number, ...keysAndArgs: string[]): Promise<number | string>;
}

const defineScripts = scriptRegistrar({
  redbeatDigest: 'redbeat-digest',
  redbeatMeta: 'redbeat-meta',
  redbeatLock: 'redbeat-lock',
} satisfies Record<keyof RedBeatScripts, string>);

export function withRedBeatScripts(client: Redis): Redis & RedBeatScripts {
  if (!('redbeatDigest' in client)) defineScripts(client);
  return client as Redis & RedBeatScripts;
}
