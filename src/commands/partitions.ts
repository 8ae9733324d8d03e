/**
 * `beat partitions`: the deployment's partition count as Redis records it, the config's, and who
 * leads each partition; `beat partitions set N`: changes the count of a deployment that has state,
 * with no replica leading, by moving every entry's records to its partition under N
 * (redis/partition-move.ts), never by starting the entries afresh under new keys.
 */
import type { Redis } from 'ioredis';
import { DEFAULTS } from '../base/defaults.js';
import { BeatError, ErrorCode, errorMessage, shown } from '../base/errors.js';
import { closest } from '../config/keys.js';
import { silentLogger } from '../base/log.js';
import { chunksOf } from '../base/chunks.js';
import { maskUrl } from '../config/redis-url.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { stateUrlFor } from '../publish/publishing.js';
import { partitionOf } from '../core/partition.js';
import { lockedPartitions, movesOf, partitionCountProblem, samePartitionKeys } from '../control/partition-count.js';
import type { PartitionRecord } from '../control/partition-count.js';
import { localActor } from '../redis/audit-log.js';
import { connectWithRetry, createRedisClient } from '../redis/connect.js';
import { ControlStore } from '../redis/control-store.js';
import { partitionKeys, schedulerKeys } from '../redis/keys.js';
import { PartitionCountStore } from '../redis/partition-count-store.js';
import { takePartitionLocks } from '../redis/partition-locks.js';
import type { HeldLocks } from '../redis/partition-locks.js';
import { entriesIn, moveEntryRecords, moveRequest, pendingRequests } from '../redis/partition-move.js';
import { EntryIndex } from '../redis/entry-index.js';
import { parseCount } from './args.js';
import { leaf } from './command-spec.js';
import { openControl, redisOptions } from './control-open.js';
import type { Control } from './control-open.js';
import { ExitCode } from './io.js';
import type { Io } from './io.js';
import { renderTable } from './table.js';

const LOCK_CONNECT_TIMEOUT_MS = 5000;
/** How long `beat check` waits for Redis to read the recorded partition count. */
const CHECK_CONNECT_MS = 1000;

export const partitionsSpec = leaf({
  name: 'partitions',
  summary: "show the deployment's partition count and leaders; change the count (set N)",
  positionals: { usage: '[set N]', most: 2 },
  about: `Without arguments: the deployment's partition count as recorded in Redis (by the first beat run
to start; a deployment that ran before counts were recorded counts as 1 when it has state under
its own keys), the config's \`partitions\`, a change of the count under way, and who leads each
partition (PARTITION / LEADER / SINCE). A beat run whose \`partitions\` is not the recorded count
does not lead (it exits 2 at start).

set N: changes the count to N. Runs only while no replica leads any partition: it takes every
partition's lock itself (of the old count and of N; exit 2, naming the leaders, when one is held),
records that the entries are moving to N (no replica leads while that is recorded), moves each
entry's records (state, paused mark, run history, failures, missed and passed-over slots, notes,
pending manual runs and backfills) from its old partition's keys to its partition's under N, each
entry's at once, builds the runtime entries' partition index for N, records N, removes the old
count's index and lets the locks go. Interrupted, it leaves the move recorded: run it
again to complete it. Without --yes it says what it would move and changes nothing (exit 2). Then
set \`partitions: N\` in the config and start the replicas. With nothing to move (a new deployment,
or N recorded already), --yes records N and builds the partition index of the entries stored.
`,
  options: {
    ...redisOptions,
    yes: { type: 'boolean', short: 'y', help: 'with set: move the entries (without it, only say what would move)' },
    json: { type: 'boolean', help: 'without set: print the counts and the leaders as JSON' },
  },
  run: (args, io) => partitionsCommand(args.values, args.positionals, io),
});

async function partitionsCommand(
  values: { config?: string; broker?: string; yes?: boolean; json?: boolean },
  positionals: readonly string[],
  io: Io,
): Promise<ExitCode> {
  const [verb, count] = positionals;
  if (verb !== undefined && verb !== 'set')
    throw new BeatError(
      ErrorCode.Usage,
      `beat partitions: unknown word ${shown(verb)}${closest(verb, ['set']) === undefined ? '' : '; did you mean "set"?'}; usage: beat partitions [set N]. See 'beat partitions --help'.`,
    );
  if (verb === 'set' && count === undefined)
    throw new BeatError(ErrorCode.Usage, "beat partitions set: how many? Usage: beat partitions set N. See 'beat partitions --help'.");
  const target = count === undefined ? undefined : parseCount('partitions set', 'N', count, 1, DEFAULTS.partitionsMax);
  const control = await openControl(io, values.config, values.broker);
  try {
    return target === undefined ? await show(control, values.json === true, io) : await set(control, target, values.yes === true, io);
  } catch (error) {
    throw control.failure(target === undefined ? 'partitions' : 'partitions set', error);
  } finally {
    await control.close();
  }
}

/** The record as replicas take it: none recorded, a deployment with state under its own keys is of one partition. */
async function effectiveRecord(store: PartitionCountStore): Promise<{ record: PartitionRecord | undefined; recorded: boolean }> {
  const recorded = await store.read();
  if (recorded !== undefined) return { record: recorded, recorded: true };
  return { record: (await store.hasUnpartitionedState()) ? { count: 1, movingTo: undefined } : undefined, recorded: false };
}

async function show(control: Control, json: boolean, io: Io): Promise<ExitCode> {
  const { config, redis } = control;
  const configured = config.partitions ?? 1;
  const { record, recorded } = await effectiveRecord(new PartitionCountStore(redis, schedulerKeys(config.state.prefix, config.name)));
  const count = record?.count ?? configured;
  const leaders = await Promise.all(
    Array.from({ length: count }, (_, p) => new ControlStore(redis, partitionKeys(config.state.prefix, config.name, p, count)).leader()),
  );
  const rows = leaders.map((leader, partition) => ({
    partition,
    leader: leader?.instance ?? null,
    since: leader === undefined ? null : new Date(leader.sinceMs).toISOString(),
  }));
  if (json) {
    io.out(
      JSON.stringify({
        deployment: config.name,
        recorded: recorded ? count : null,
        movingTo: record?.movingTo ?? null,
        configured,
        partitions: rows,
      }),
    );
    return ExitCode.Ok;
  }
  const recordText =
    record === undefined
      ? 'none recorded (no beat run has started; the first records its own)'
      : recorded
        ? `${count} (recorded in Redis)`
        : "1 (not recorded yet: the deployment's state is under its own keys, as with one partition)";
  io.out(`deployment ${config.name}: partitions ${recordText}; the config says ${configured} (${control.source})`);
  const problem = record === undefined ? undefined : partitionCountProblem(record, configured);
  if (problem !== undefined) io.out(`WARNING: a beat run of this config does not lead: ${problem}`);
  io.out(
    renderTable(
      ['PARTITION', 'LEADER', 'SINCE'],
      rows.map((r) => [String(r.partition), r.leader ?? '-', r.since ?? '-']),
    ),
  );
  return ExitCode.Ok;
}

async function set(control: Control, target: number, yes: boolean, io: Io): Promise<ExitCode> {
  const { config, redis } = control;
  const prefix = config.state.prefix;
  const deployment = config.name;
  const configured = config.partitions ?? 1;
  const store = new PartitionCountStore(redis, schedulerKeys(prefix, deployment));
  // Never recorded and no state under the deployment's own keys: as the config's count says (a new deployment has nothing to move).
  const record = (await effectiveRecord(store)).record ?? { count: configured, movingTo: undefined };
  if (record.movingTo !== undefined && record.movingTo !== target)
    throw new BeatError(
      ErrorCode.PartitionsDiffer,
      `beat partitions set: a move of deployment ${deployment}'s entries from ${record.count} to ${record.movingTo} partitions is recorded and not complete: complete it first with 'beat partitions set ${record.movingTo} --yes'; nothing was changed`,
    );
  const from = record.count;
  if (record.movingTo === undefined && from === target) {
    const already = `deployment ${deployment} has ${target} partition${target === 1 ? '' : 's'} already: nothing to move`;
    if (!yes || target === 1) {
      io.out(already);
      return ExitCode.Ok;
    }
    // A new deployment: record the count (what its first beat run would) so that writers keep the
    // partition index from now on, and build it for the entries stored before (a pass shared with
    // any replica that builds it too), so that no replica's first take-over waits for it.
    const recorded = await store.record(target);
    if (recorded.count !== target || recorded.movingTo !== undefined)
      throw new BeatError(
        ErrorCode.PartitionsDiffer,
        `beat partitions set: the deployment's record changed meanwhile (it now says ${recorded.count} partitions${recorded.movingTo === undefined ? '' : `, moving to ${recorded.movingTo}`}); run 'beat partitions' to see it; nothing was changed`,
      );
    if (!(await new EntryIndex(redis, schedulerKeys(prefix, deployment)).ready(target)))
      throw new BeatError(
        ErrorCode.PartitionsDiffer,
        `beat partitions set: the deployment's record changed while the partition index was built (it no longer says ${target}); run 'beat partitions' to see it`,
      );
    io.out(`${already}; ${target} recorded, the runtime entries' partition index is whole`);
    return ExitCode.Ok;
  }
  const keysOf = (partition: number, count: number) => partitionKeys(prefix, deployment, partition, count);
  if (!yes) {
    let moving = 0;
    for (let p = 0; p < from; p += 1)
      for (const names of movesOf(await entriesIn(redis, keysOf(p, from)), p, from, target).values()) moving += names.length;
    io.out(
      `beat partitions set ${target}: would move the records of ${moving} entr${moving === 1 ? 'y' : 'ies'} of deployment ${deployment} from ${from} to ${target} partitions`,
    );
    throw new BeatError(
      ErrorCode.Usage,
      `beat partitions set: nothing was changed; run it again with --yes to move them (with every replica stopped)`,
    );
  }
  const lockClients = await connectLockClients(config, redis);
  const holder = `beat partitions set (${localActor()})`;
  try {
    const taken = await takePartitionLocks({
      lockClients,
      state: redis,
      partitions: lockedPartitions(from, target).map(({ partition, count }) => keysOf(partition, count)),
      ttlMs: DEFAULTS.partitionsSetLockTtlMs,
      holder,
      nowMs: io.now(),
    });
    if (taken.refused !== undefined) {
      const held = taken.refused.map(({ keys, leader, error }) => {
        if (error !== undefined) return `${keys.lock}: ${error}`;
        return leader === undefined
          ? `${keys.lock}: held (by a replica that stopped without letting it go: it expires within lock.ttl)`
          : `${keys.lock}: led by ${leader}`;
      });
      throw new BeatError(
        ErrorCode.PartitionsDiffer,
        `beat partitions set: a replica leads: ${held.join('; ')}. Stop every beat run of deployment ${deployment} (or wait for a dead one's lock to expire) and run it again; nothing was changed`,
      );
    }
    try {
      return await move(control, store, taken.held, { from, target, configured, holder, resuming: record.movingTo === target }, io);
    } finally {
      await taken.held.release();
    }
  } finally {
    for (const client of lockClients) if (client !== redis) client.disconnect();
  }
}

async function move(
  control: Control,
  store: PartitionCountStore,
  held: HeldLocks,
  plan: { from: number; target: number; configured: number; holder: string; resuming: boolean },
  io: Io,
): Promise<ExitCode> {
  const { config, redis } = control;
  const { from, target, configured, holder, resuming } = plan;
  const keysOf = (partition: number, count: number) => partitionKeys(config.state.prefix, config.name, partition, count);
  const fenced = (partition: number, count: number) => {
    const keys = keysOf(partition, count);
    return { keys, token: held.tokenOf(keys.lock) };
  };
  // The runtime entries' partition index (redis/entry-index.ts): the new count's is built whole here,
  // writers keep it from `begin` on (they keep the recorded count's and the one a move goes to); what
  // an older move to this count left of it goes first, unless this move is the one that left it.
  const index = new EntryIndex(redis, schedulerKeys(config.state.prefix, config.name));
  if (!resuming) await index.remove(target);
  const begun = await store.begin(from, target, holder, io.now());
  if (!begun.ok)
    throw new BeatError(
      ErrorCode.PartitionsDiffer,
      `beat partitions set: the deployment's record changed meanwhile (it now says ${begun.record.count} partitions${begun.record.movingTo === undefined ? '' : `, moving to ${begun.record.movingTo}`}); run 'beat partitions' to see it; nothing was moved`,
    );
  const refusedWrite = (partition: number): BeatError =>
    new BeatError(
      ErrorCode.PartitionsDiffer,
      `beat partitions set: another process took the lock of partition ${partition} while the entries were moving (a replica started, or this command's lock ran out); every entry's records are whole in one place, and the move stays recorded: stop that process and run 'beat partitions set ${target} --yes' again to complete it`,
    );
  if (target > 1 && (await index.build(target)) === false)
    throw new BeatError(
      ErrorCode.PartitionsDiffer,
      `beat partitions set: the deployment's record changed during the move (it no longer says a move to ${target}); run 'beat partitions' to see it`,
    );
  // Entries from a partition that never recorded passed-over slots are spoken for only from now on.
  const sinceClaim = io.now() + 2 * config.lock.maxClockSkewMs;
  let moved = 0;
  let kept = 0;
  let requests = 0;
  for (let p = 0; p < from; p += 1) {
    const source = fenced(p, from);
    for (const [destination, names] of movesOf(await entriesIn(redis, source.keys), p, from, target)) {
      for (const chunk of chunksOf(names, DEFAULTS.partitionsMoveChunk)) {
        if (held.lost() !== undefined) throw refusedWrite(p);
        const done = await moveEntryRecords(redis, source, fenced(destination, target), chunk, sinceClaim);
        if (done === undefined) throw refusedWrite(p);
        moved += done.moved;
        kept += done.kept;
        io.progress?.(`moved ${moved + kept} entries`);
      }
    }
    for (const request of await pendingRequests(redis, source.keys)) {
      const destination = partitionOf(request.entry, target);
      if (samePartitionKeys(p, from, destination, target)) continue;
      const done = await moveRequest(redis, request, source, fenced(destination, target));
      if (done === undefined) throw refusedWrite(p);
      if (done) requests += 1;
    }
  }
  const finished = await store.finish(from, target, holder, io.now());
  if (!finished.ok)
    throw new BeatError(
      ErrorCode.PartitionsDiffer,
      `beat partitions set: the deployment's record changed during the move (it now says ${finished.record.count}); run 'beat partitions' to see it`,
    );
  // Writers keep the old count's index no longer.
  await index.remove(from);
  io.progress?.(`moved ${moved + kept} entries`, true);
  io.out(
    `deployment ${config.name}: ${target} partition${target === 1 ? '' : 's'} (recorded in Redis), from ${from}: moved the records of ${moved} entr${moved === 1 ? 'y' : 'ies'}${kept === 0 ? '' : ` (${kept} kept the later records already under the new partition)`}${requests === 0 ? '' : ` and ${requests} pending request${requests === 1 ? '' : 's'}`}`,
  );
  if (configured !== target)
    io.out(`now set partitions: ${target} in ${control.source} (it says ${configured}) before starting the replicas`);
  return ExitCode.Ok;
}

/** lock.urls' servers, connected; else the state Redis alone (as beat run takes its locks). */
async function connectLockClients(config: ResolvedConfig, state: Redis): Promise<Redis[]> {
  if (config.lock.urls.length === 0) return [state];
  const clients = config.lock.urls.map((url, i) => createRedisClient(url, {}, `lock ${i + 1}`, silentLogger));
  try {
    await Promise.all(clients.map((client) => connectWithRetry(client, AbortSignal.timeout(LOCK_CONNECT_TIMEOUT_MS))));
  } catch (error) {
    for (const client of clients) client.disconnect();
    throw error;
  }
  return clients;
}

/**
 * The deployment's recorded partition count (`beat partitions`): for --json always; a line when the
 * deployment has more than one partition, or the count is not the config's, with the warning then.
 */
export async function recordedPartitions(
  control: Control,
): Promise<{ json: { recorded: number | null; movingTo: number | null; configured: number }; line?: string; warnings: string[] }> {
  const { config } = control;
  const configured = config.partitions ?? 1;
  const store = new PartitionCountStore(control.redis, schedulerKeys(config.state.prefix, config.name));
  const recorded = await store.read();
  const json = { recorded: recorded?.count ?? null, movingTo: recorded?.movingTo ?? null, configured };
  // Not recorded: as a replica takes it (a deployment with state under its own keys is of one partition).
  const record = recorded ?? ((await store.hasUnpartitionedState()) ? { count: 1, movingTo: undefined } : undefined);
  const problem = record === undefined ? undefined : partitionCountProblem(record, configured);
  if (record === undefined || (problem === undefined && configured === 1)) return { json, warnings: [] };
  const line = `partitions: ${record.count}${recorded === undefined ? ' (not recorded yet)' : ' (recorded in Redis)'}${record.movingTo === undefined ? '' : `, MOVING to ${record.movingTo}`}; this config: ${configured}`;
  return { json, line, warnings: problem === undefined ? [] : [`a beat run of this config does not lead: ${problem}`] };
}

/**
 * `beat check` with `partitions` in the config: the deployment's recorded count when its Redis answers
 * within CHECK_CONNECT_MS (a line on stdout; a count a replica would not lead under on stderr, exit 2);
 * a Redis away is said and is no failure (check needs no Redis).
 */
export async function checkRecordedPartitions(config: ResolvedConfig, io: Io): Promise<ExitCode> {
  const configured = config.partitions ?? 1;
  if (configured === 1) return ExitCode.Ok;
  const url = stateUrlFor(config);
  const client = createRedisClient(url, config.broker.transportOptions, 'control', silentLogger);
  try {
    await connectWithRetry(client, AbortSignal.timeout(CHECK_CONNECT_MS));
    const store = new PartitionCountStore(client, schedulerKeys(config.state.prefix, config.name));
    const recorded = await store.read();
    const record = recorded ?? ((await store.hasUnpartitionedState()) ? { count: 1, movingTo: undefined } : undefined);
    if (record === undefined) {
      io.out(`partitions: ${configured}; none recorded in Redis yet (the first beat run records it)`);
      return ExitCode.Ok;
    }
    io.out(
      `partitions: ${configured}; recorded in Redis: ${record.count}${record.movingTo === undefined ? '' : `, moving to ${record.movingTo}`}`,
    );
    const problem = partitionCountProblem(record, configured);
    if (problem === undefined) return ExitCode.Ok;
    io.err(`partitions: ${problem}`);
    return ExitCode.BadInput;
  } catch (error) {
    io.out(`partitions: ${configured}; the count recorded in Redis not checked (${maskUrl(url)}: ${errorMessage(error)})`);
    return ExitCode.Ok;
  } finally {
    client.disconnect();
  }
}
