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

const PUBLISH_FENCED = lua('publish-fenced');
const TRIGGER_FENCED = lua('trigger-fenced');
const RETRY_FENCED = lua('retry-fenced');
const RECORD_SEEN = lua('record-seen');
const SEED_STATE = lua('seed-state');

// The AMQP broker's two-step publish: claim, publish with confirms (outside Redis), commit.
const CLAIM_FENCED = lua('claim-fenced');
const COMMIT_FENCED = lua('commit-fenced');
const CLAIM_TRIGGER = lua('claim-trigger');
const COMMIT_TRIGGER = lua('commit-trigger');
const LEADER_INFO = lua('leader-info');
const ENTRIES_WRITE = lua('entries-write');
const STATICS_WRITE = lua('statics-write');
const DEFINITION_WRITE = lua('definition-write');
const AUDIT_APPEND = lua('audit-append');
const ALERTS_OUTBOX = lua('alerts-outbox');
const RUN_HISTORY = lua('run-history');
const REPLICA_BEAT = lua('replica-beat');
const BACKFILL_FENCED = lua('backfill-fenced');
const RECORD_PASSED = lua('record-passed');
const PASSED_CLIP = lua('passed-clip');
const DEAD_LETTERS = lua('dead-letters');
const GROUP_WAIT = lua('group-wait');

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

export function withScripts(client: RedisClient): RedisClient & ScriptClient {
  if (!('publishFenced' in client)) {
    client.defineCommand('publishFenced', { lua: PUBLISH_FENCED });
    client.defineCommand('triggerFenced', { lua: TRIGGER_FENCED });
    client.defineCommand('retryFenced', { lua: RETRY_FENCED });
    client.defineCommand('recordSeen', { lua: RECORD_SEEN });
    client.defineCommand('seedState', { lua: SEED_STATE });
    client.defineCommand('claimFenced', { lua: CLAIM_FENCED });
    client.defineCommand('commitFenced', { lua: COMMIT_FENCED });
    client.defineCommand('claimTrigger', { lua: CLAIM_TRIGGER });
    client.defineCommand('commitTrigger', { lua: COMMIT_TRIGGER });
    client.defineCommand('leaderInfo', { lua: LEADER_INFO });
    client.defineCommand('entriesWrite', { lua: ENTRIES_WRITE });
    client.defineCommand('staticsWrite', { lua: STATICS_WRITE });
    client.defineCommand('definitionWrite', { lua: DEFINITION_WRITE });
    client.defineCommand('auditAppend', { lua: AUDIT_APPEND });
    client.defineCommand('alertsOutbox', { lua: ALERTS_OUTBOX });
    client.defineCommand('runHistory', { lua: RUN_HISTORY });
    client.defineCommand('replicaBeat', { lua: REPLICA_BEAT });
    client.defineCommand('backfillFenced', { lua: BACKFILL_FENCED });
    client.defineCommand('recordPassed', { lua: RECORD_PASSED });
    client.defineCommand('passedClip', { lua: PASSED_CLIP });
    client.defineCommand('deadLetters', { lua: DEAD_LETTERS });
    client.defineCommand('groupWait', { lua: GROUP_WAIT });
  }
  return client as RedisClient & ScriptClient;
}
