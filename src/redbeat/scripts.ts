/** The Lua scripts on RedBeat's keys (src/redis/lua/redbeat-*.lua; see their headers), registered on a connection. */
import type { Redis } from 'ioredis';
import { lua } from '../redis/scripts.js';

const DIGEST = lua('redbeat-digest');
const META = lua('redbeat-meta');
const LOCK = lua('redbeat-lock');

export interface RedBeatScripts {
  redbeatDigest(numKeys: number, ...keysAndArgs: string[]): Promise<string[]>;
  redbeatMeta(numKeys: number, ...keysAndArgs: string[]): Promise<number>;
  redbeatLock(numKeys: number, ...keysAndArgs: string[]): Promise<number | string>;
}

export function withRedBeatScripts(client: Redis): Redis & RedBeatScripts {
  if (!('redbeatDigest' in client)) {
    client.defineCommand('redbeatDigest', { lua: DIGEST });
    client.defineCommand('redbeatMeta', { lua: META });
    client.defineCommand('redbeatLock', { lua: LOCK });
  }
  return client as Redis & RedBeatScripts;
}
