/**
 * Live control of a deployment of several partitions, as its clients ask for it (`beat pause`,
 * `resume`, `trigger`, `backfill`, /status, the dashboard, the backfill API): a request about an
 * entry goes to its partition's keys (core/partition.ts partitionOf), where that partition's leader
 * hears it on its own channel; the reads of every entry (paused, notes) are every partition's
 * together. Who leads is partition 0's record (each partition's is in its own `leader` hash).
 * A manual run or backfill is followed by its id: the partition it went to is remembered here, and an
 * id asked about from another process is looked for in every partition.
 */
import type { Redis } from 'ioredis';
import { partitionOf } from '../core/partition.js';
import { decodeBackfillRequest } from '../control/backfill.js';
import type { BackfillProgress } from '../control/backfill.js';
import type { ControlNote } from '../control/notes.js';
import type { LeaderInfo, PauseNote } from '../control/status.js';
import type { BackfillRequest, TriggerRequest } from '../ports/control.js';
import type { AuditContext } from './audit-log.js';
import { ControlStore } from './control-store.js';
import { partitionKeys } from './keys.js';

/** What the clients of live control use of a ControlStore. */
export type ControlClient = Pick<
  ControlStore,
  | 'paused'
  | 'notes'
  | 'pauseNotes'
  | 'setPaused'
  | 'leader'
  | 'requestTrigger'
  | 'cancelTrigger'
  | 'wasTriggered'
  | 'triggerRefusal'
  | 'requestBackfill'
  | 'cancelBackfill'
  | 'backfillProgress'
  | 'backfillThrough'
>;

export class PartitionedControl implements ControlClient {
  private readonly stores: readonly ControlStore[];
  /** The partition of each manual run or backfill requested through this object, by id. */
  private readonly sentTo = new Map<string, number>();

  constructor(
    client: Redis,
    deployment: { readonly prefix: string; readonly name: string; readonly partitions: number },
    auditSettings: Omit<AuditContext, 'who' | 'note'> = {},
  ) {
    const { prefix, name, partitions } = deployment;
    this.stores = Array.from(
      { length: partitions },
      (_, p) => new ControlStore(client, partitionKeys(prefix, name, p, partitions), auditSettings),
    );
  }

  /** The control store of `entry`'s partition. */
  of(entry: string): ControlStore {
    return this.stores[partitionOf(entry, this.stores.length)] as ControlStore;
  }

  async paused(): Promise<Set<string>> {
    return new Set((await Promise.all(this.stores.map((s) => s.paused()))).flatMap((set) => [...set]));
  }

  async notes(): Promise<Map<string, ControlNote>> {
    return new Map((await Promise.all(this.stores.map((s) => s.notes()))).flatMap((map) => [...map]));
  }

  async pauseNotes(): Promise<Map<string, PauseNote>> {
    return new Map((await Promise.all(this.stores.map((s) => s.pauseNotes()))).flatMap((map) => [...map]));
  }

  setPaused(entry: string, paused: boolean, nowMs: number, audit?: AuditContext): Promise<boolean> {
    return this.of(entry).setPaused(entry, paused, nowMs, audit);
  }

  leader(): Promise<LeaderInfo | undefined> {
    return (this.stores[0] as ControlStore).leader();
  }

  /** Each partition's leader record (index: the partition), undefined where none leads. */
  leaders(): Promise<(LeaderInfo | undefined)[]> {
    return Promise.all(this.stores.map((s) => s.leader()));
  }

  requestTrigger(request: TriggerRequest, audit?: AuditContext): Promise<string> {
    this.sentTo.set(request.id, partitionOf(request.entry, this.stores.length));
    return this.of(request.entry).requestTrigger(request, audit);
  }

  cancelTrigger(text: string): Promise<boolean> {
    const entry = entryIn(text);
    return entry === undefined ? Promise.resolve(false) : this.of(entry).cancelTrigger(text);
  }

  wasTriggered(taskId: string): Promise<boolean> {
    return this.find(taskId, (s) => s.wasTriggered(taskId), false);
  }

  triggerRefusal(taskId: string): Promise<string | undefined> {
    return this.find(taskId, (s) => s.triggerRefusal(taskId), undefined);
  }

  requestBackfill(request: BackfillRequest, audit?: AuditContext): Promise<string> {
    this.sentTo.set(request.id, partitionOf(request.entry, this.stores.length));
    return this.of(request.entry).requestBackfill(request, audit);
  }

  cancelBackfill(text: string): Promise<boolean> {
    const entry = decodeBackfillRequest(text)?.entry;
    return entry === undefined ? Promise.resolve(false) : this.of(entry).cancelBackfill(text);
  }

  backfillProgress(id: string): Promise<BackfillProgress | undefined> {
    return this.find(id, (s) => s.backfillProgress(id), undefined);
  }

  backfillThrough(id: string): Promise<number | undefined> {
    return this.find(id, (s) => s.backfillThrough(id), undefined);
  }

  /** What the partition of request `id` answers; not sent from here: the first partition's answer that is not `none`. */
  private async find<T>(id: string, ask: (store: ControlStore) => Promise<T>, none: T): Promise<T> {
    const sent = this.sentTo.get(id);
    if (sent !== undefined) return ask(this.stores[sent] as ControlStore);
    for (const store of this.stores) {
      const answer = await ask(store);
      if (answer !== none) return answer;
    }
    return none;
  }
}

/** The entry of a trigger request's text (ControlStore.requestTrigger's JSON). */
function entryIn(text: string): string | undefined {
  try {
    const entry = (JSON.parse(text) as { entry?: unknown }).entry;
    return typeof entry === 'string' ? entry : undefined;
  } catch {
    return undefined;
  }
}
