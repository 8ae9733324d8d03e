/**
 * The Lua scripts, read once from `src/redis/lua/` (copied to `dist/redis/lua/` by the build),
 * with their `--- @include` fragments of `lua/includes/` in place (lua-includes.ts), and registered
 * once on a connection through ioredis's `defineCommand`, every one of them (the scheduler's hot
 * publish included): ioredis sends a script as EVAL on a connection's first call and by EVALSHA
 * after, and as EVAL again when the server answers NOSCRIPT (after a restart, say).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { RedisClient } from './connect.js';
import { luaIncludeUrl, luaScriptUrl } from '../base/package-files.js';
import { assembleLua } from './lua-includes.js';
import type { TriggerResult } from '../ports/control-source.js';
import type { SchedulerKeys } from './keys.js';

/** A fragment of `lua/includes/`, or undefined when there is none. */
export function readLuaFragment(name: string): string | undefined {
  const url = luaIncludeUrl(name);
  return existsSync(url) ? readFileSync(url, 'utf8') : undefined;
}

/** The script `lua/<name>.lua` as Redis runs it: its includes assembled. */
export function lua(name: string): string {
  return assembleLua(name, readFileSync(luaScriptUrl(name), 'utf8'), readLuaFragment);
}

/**
 * Registers each script of `scripts` (its command's name → `lua/<file>.lua`) on a connection. The
 * files are read and assembled at the first registration, not when this module loads: `beat next`
 * and `beat status` load it to read the store and run no script (bench/cli-start.mjs).
 */
export function scriptRegistrar(scripts: Readonly<Record<string, string>>): (client: RedisClient) => void {
  let assembled: (readonly [string, string])[] | undefined;
  return (client) => {
    assembled ??= Object.entries(scripts).map(([command, file]) => [command, lua(file)] as const);
    for (const [command, text] of assembled) client.defineCommand(command, { lua: text });
  };
}

export interface ScriptClient {
  /** publish-fenced.lua: see its header for KEYS, ARGV and the reply. */
  publishFenced(numKeys: number, ...keysAndArgs: (string | Buffer)[]): Promise<number[]>;
  /** trigger-fenced.lua: see its header. */
  triggerFenced(numKeys: number, ...keysAndArgs: (string | Buffer)[]): Promise<TriggerResult | unknown[]>;
  /** retry-fenced.lua: see its header. */
  retryFenced(numKeys: number, ...keysAndArgs: (string | Buffer)[]): Promise<number | unknown[]>;
  /** record-seen.lua: first sightings of entries without a state; 1 per name written, 0 if it had one. */
  recordSeen(numKeys: number, ...keysAndArgs: string[]): Promise<number[]>;
  /** seed-state.lua: cut-over adoption of another scheduler's last runs (RedBeat's meta, django's last_run_at; seed-states.ts). */
  seedState(numKeys: number, ...keysAndArgs: string[]): Promise<number[]>;
  /** claim-fenced.lua (AMQP): fence and freshness check before publishing; writes nothing. */
  claimFenced(numKeys: number, ...keysAndArgs: string[]): Promise<number[]>;
  /** commit-fenced.lua (AMQP): records confirmed runs, fenced, slot forward only. */
  commitFenced(numKeys: number, ...keysAndArgs: string[]): Promise<number[]>;
  /** claim-trigger.lua (AMQP): fence check and the request still pending. */
  claimTrigger(numKeys: number, ...keysAndArgs: string[]): Promise<TriggerResult>;
  /** commit-trigger.lua (AMQP): records a confirmed manual run and removes its request. */
  commitTrigger(numKeys: number, ...keysAndArgs: string[]): Promise<TriggerResult>;
  /** leader-info.lua: rewrites the leader's config fingerprint while the caller holds the fence. */
  leaderInfo(numKeys: number, ...keysAndArgs: string[]): Promise<number>;
  /** entries-write.lua: creates, changes and deletes runtime entries, all or nothing. */
  /** Its keys and arguments as one array (ioredis flattens it): a write of 100,000 entries must not be spread onto the stack. */
  entriesWrite(numKeys: number, keysAndArgs: readonly string[]): Promise<(string | number)[]>;
  /** audit-append.lua: a write's events in the audit trail, many to a call. Keys and arguments as one array (ioredis flattens it). */
  auditAppend(numKeys: number, keysAndArgs: readonly string[]): Promise<number>;
  /** statics-write.lua: replaces the config file's entry names when they changed. */
  staticsWrite(numKeys: number, ...keysAndArgs: string[]): Promise<number>;
  staticsWrite(numKeys: number, keysAndArgs: readonly string[]): Promise<number>;
  /** definition-write.lua: replaces the recorded definition of the leader's config when its digest changed. */
  definitionWrite(numKeys: number, keysAndArgs: readonly string[]): Promise<number>;
  /** alerts-outbox.lua: the alert outbox's enqueue, claim, settle and retry. */
  alertsOutbox(numKeys: number, ...keysAndArgs: string[]): Promise<number | string[]>;
  /** run-history.lua: records runs in their entries' histories and keeps the pending set. */
  runHistory(numKeys: number, ...keysAndArgs: string[]): Promise<number[]>;
  /** backfill-fenced.lua: one step of a backfill, checked against the record of passed-over slots and cut out of it. */
  backfillFenced(numKeys: number, ...keysAndArgs: (string | Buffer)[]): Promise<unknown[]>;
  /** record-passed.lua: the leader's ranges of passed-over slots, fenced. Keys and arguments as one array (ioredis flattens it). */
  recordPassed(numKeys: number, keysAndArgs: readonly string[]): Promise<number[]>;
  /** passed-clip.lua: a new leader cuts the ranges it may publish into, before it schedules. Keys and arguments as one array. */
  passedClip(numKeys: number, keysAndArgs: readonly string[]): Promise<number[]>;
  /** dead-letters.lua: items taken off the dead-letter list (replay, discard), all or nothing, with their audit. One array. */
  deadLetters(numKeys: number, keysAndArgs: readonly string[]): Promise<number | unknown[]>;
  /** group-wait.lua: runs whose concurrency group is full take their slots and wait, fenced. Keys and arguments as one array. */
  groupWait(numKeys: number, keysAndArgs: readonly string[]): Promise<number[]>;
  /** replica-beat.lua: a replica's heartbeat in the registry, and its leaving. */
  replicaBeat(numKeys: number, ...keysAndArgs: string[]): Promise<number>;
}

/** The scripts that read their arguments packed into one MessagePack Buffer (kombu/redis-transport.ts `evalScript`). */
export type PackedScriptName = 'publishFenced';

/**
 * retry-fenced.lua's fixed KEYS (see its header) for a run of `entry` taken from the retries zset
 * or the waiting zset; the broker lists follow them.
 */
export function retryFencedKeys(keys: SchedulerKeys, entry: string, from: 'retries' | 'waiting'): string[] {
  return [keys.fence, keys.state, keys.entries, keys.stop, keys[from], keys.runs(entry), keys.runsPending];
}

const defineScripts = scriptRegistrar({
  publishFenced: 'publish-fenced',
  triggerFenced: 'trigger-fenced',
  retryFenced: 'retry-fenced',
  recordSeen: 'record-seen',
  seedState: 'seed-state',
  // The AMQP broker's two-step publish: claim, publish with confirms (outside Redis), commit.
  claimFenced: 'claim-fenced',
  commitFenced: 'commit-fenced',
  claimTrigger: 'claim-trigger',
  commitTrigger: 'commit-trigger',
  leaderInfo: 'leader-info',
  entriesWrite: 'entries-write',
  staticsWrite: 'statics-write',
  definitionWrite: 'definition-write',
  auditAppend: 'audit-append',
  alertsOutbox: 'alerts-outbox',
  runHistory: 'run-history',
  replicaBeat: 'replica-beat',
  backfillFenced: 'backfill-fenced',
  recordPassed: 'record-passed',
  passedClip: 'passed-clip',
  deadLetters: 'dead-letters',
  groupWait: 'group-wait',
} satisfies Record<keyof ScriptClient, string>);

export function withScripts(client: RedisClient): RedisClient & ScriptClient {
  if (!('publishFenced' in client)) defineScripts(client);
  return client as RedisClient & ScriptClient;
}
