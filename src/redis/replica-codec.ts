/**
 * The one codec of a replica's record in the `replicas` hash (keys.ts), and which records are live:
 * those whose time in the `replicas:expiry` zset (their last heartbeat plus their lock.ttl, both by
 * Redis's clock: lua/replica-beat.lua) has not come by Redis's clock. lua/replica-beat.lua stores the
 * text as it is given and never reads inside it.
 *
 * A record is JSON: {"v":1,"host":…,"pid":…,"version":…,"role":"leader"|"standby","started":<epoch
 * ms>,"beat":<epoch ms>,"http":"host:port"|null,"ttl":<ms>}, its times by the replica's own clock
 * (shown as they are; they judge nothing). `ttl` is the time the record counts after its heartbeat,
 * so that a reader can tell the heartbeat's instant by Redis's clock (its expiry less `ttl`); a
 * record without it (from a tsbeat that did not write it) is still read. A value that is not one
 * (written by something else, or by a later tsbeat with another `v`) is left out, as is a record
 * without an expiry.
 */
import type { LiveReplica, ReplicaRecord } from '../control/replicas.js';
import { storedObject } from '../base/stored-object.js';

const VERSION = 1;
/** The instants an ISO date can show (years 0001–9999), so that a record's times can be printed. */
const FIRST_MS = -62_135_596_800_000;
const LAST_MS = 253_402_300_799_999;

export function encodeReplicaRecord(r: ReplicaRecord): string {
  return JSON.stringify({
    v: VERSION,
    host: r.host,
    pid: r.pid,
    version: r.version,
    role: r.role,
    started: r.startedAtMs,
    beat: r.beatAtMs,
    http: r.http,
    ...(r.ttlMs === undefined ? {} : { ttl: r.ttlMs }),
  });
}

const isInstant = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= FIRST_MS && v <= LAST_MS;

/** The record of `instance` stored as `text`, or undefined when it is not one. */
export function decodeReplicaRecord(instance: string, text: string): ReplicaRecord | undefined {
  const o = storedObject(text);
  if (o === undefined) return undefined;
  const { host, pid, version, role, started, beat, http, ttl } = o;
  if (o['v'] !== VERSION || typeof host !== 'string' || typeof version !== 'string') return undefined;
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid < 0) return undefined;
  if (role !== 'leader' && role !== 'standby') return undefined;
  if (!isInstant(started) || !isInstant(beat)) return undefined;
  if (http !== null && typeof http !== 'string') return undefined;
  if (ttl !== undefined && (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl <= 0)) return undefined;
  return { instance, host, pid, version, role, startedAtMs: started, beatAtMs: beat, http, ...(ttl === undefined ? {} : { ttlMs: ttl }) };
}

/**
 * The live replicas: each field of the `replicas` hash (`records`) whose expiry (from the
 * `replicas:expiry` zset, as ZRANGE … WITHSCORES answers it: member, score, member, score, …) is
 * after `redisNowMs` (Redis's TIME, read with them), decoded, with its heartbeat's age by Redis's
 * clock (its expiry less its `ttl` before `redisNowMs`; without a `ttl`, its own `beat`). A replica
 * killed without a clean stop drops out here once its expiry passes, whether or not another
 * replica's heartbeat has removed it from Redis yet.
 */
export function liveReplicas(records: Readonly<Record<string, string>>, expiries: readonly string[], redisNowMs: number): LiveReplica[] {
  const live: LiveReplica[] = [];
  for (let i = 0; i + 1 < expiries.length; i += 2) {
    const instance = expiries[i] as string;
    const expiry = Number(expiries[i + 1]);
    if (!(expiry > redisNowMs) || !Object.hasOwn(records, instance)) continue;
    const record = decodeReplicaRecord(instance, records[instance] as string);
    if (record === undefined) continue;
    const beatAtMs = record.ttlMs === undefined ? record.beatAtMs : expiry - record.ttlMs;
    live.push({ ...record, heartbeatAgeMs: Math.max(0, redisNowMs - beatAtMs) });
  }
  return live;
}
