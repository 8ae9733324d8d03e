/**
 * Live control of a deployment through Redis, from any machine that reaches it: who leads, which
 * entries are paused, manual-run requests. The leader honours them within a second (it is also
 * told at once over pub/sub).
 */
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './connect.js';
import { compareFingerprint, fingerprintFields, parseFingerprint } from '../control/fingerprint.js';
import type { ConfigFingerprint, ConfigMismatch } from '../control/fingerprint.js';
import type { LeaderInfo, PauseNote } from '../control/status.js';
import type { SchedulerKeys } from './keys.js';
import { typedKeys } from './keys.js';
import { nameWrongType } from './server-errors.js';
import { withScripts } from './scripts.js';
import { AuditLog, auditCap, auditEvent, auditFields, logAudit } from './audit-log.js';
import { decodeDeadLetter } from './dead-letter-codec.js';
import type { DeadLetter } from './dead-letter-codec.js';
import type { AuditContext } from './audit-log.js';
import type { BackfillRequest, TriggerRequest } from '../ports/control-source.js';
import { decodeBackfillProgress, decodeBackfillRequest, encodeBackfillRequest } from '../control/backfill-request.js';
import type { BackfillProgress } from '../control/backfill-request.js';
import { decodeControlNote, encodeControlNote } from '../control/notes.js';
import type { ControlNote } from '../control/notes.js';
import { AUDIT_ITEMS_MAX } from '../control/audit-events.js';
import type { AuditEvent, FieldChange } from '../control/audit-events.js';
import {
  decodeDeploymentStop,
  deploymentStopView,
  encodeDeploymentStop,
  stoppedRefusal,
  wrongTypedStop,
} from '../control/deployment-stop.js';
import { BeatError, ErrorCode, shown } from '../base/errors.js';
import type { DeploymentStop } from '../control/deployment-stop.js';
import { storedObject } from '../base/stored-object.js';
import { decodeRetryMember } from './retry-codec.js';
import { decodeWaitingMember } from './waiting-codec.js';
import type { PendingRetry } from './retry-codec.js';

export const CONTROL_MESSAGE = 'control';

/** The command that counts what a key of each Redis type holds: how much a wrong-typed stop key kept from its readers. */
const SIZE_OF: Readonly<Record<string, string>> = { list: 'LLEN', hash: 'HLEN', set: 'SCARD', zset: 'ZCARD', stream: 'XLEN' };

/**
 * The pause notes hash (`<prefix>:{<name>}:paused:notes`): JSON {note, by, at}, `by` "user"
 * (`beat pause --note`, the API) or "pauseOnFailure" (lua/run-history.lua). Kept there for the
 * audit trail to pick up with the pause.
 */
export function encodePauseNote(n: PauseNote): string {
  return JSON.stringify({ note: n.note, by: n.by, at: n.atMs });
}

export function decodePauseNote(text: string): PauseNote | undefined {
  const { note, by, at } = storedObject(text) ?? {};
  if (typeof note !== 'string' || typeof by !== 'string' || typeof at !== 'number') return undefined;
  return { note, by, atMs: at };
}

export class ControlStore {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: SchedulerKeys,
    /** The audit trail's cap and log, for the changes made here; a change's own `who` and `note` come with it. */
    private readonly auditSettings: Omit<AuditContext, 'who' | 'note'> = {},
  ) {}

  private auditOf(audit: AuditContext | undefined): AuditContext {
    return { ...this.auditSettings, who: 'unknown', ...audit };
  }

  async paused(): Promise<Set<string>> {
    try {
      return new Set(await this.client.smembers(this.keys.paused));
    } catch (error) {
      throw await nameWrongType(this.client, error, typedKeys(this.keys, ['paused']));
    }
  }

  /**
   * The deployment-wide stop (`beat pause --all`), if it is set: one GET, read by the leader at each
   * look of its control loop. A stop key of another type than tsbeat's string (a list, say, that a
   * message was pushed onto) is a stop all the same, since the scripts stop on the key's existence
   * (includes/stop.lua): it is read as one of unknown origin naming what the key holds, so that every
   * view says the deployment is stopped, and `beat resume --all` removes it.
   */
  async deploymentStop(): Promise<DeploymentStop | undefined> {
    let text: string | null;
    try {
      text = await this.client.get(this.keys.stop);
    } catch (error) {
      const named = await nameWrongType(this.client, error, typedKeys(this.keys, ['stop']));
      if (!(named instanceof BeatError) || named.code !== ErrorCode.RedisWrongType) throw named;
      const type = await this.client.type(this.keys.stop);
      const counter = SIZE_OF[type];
      return wrongTypedStop(type, counter === undefined ? undefined : Number(await this.client.call(counter, this.keys.stop)));
    }
    return text === null ? undefined : decodeDeploymentStop(text);
  }

  /**
   * Stops the whole deployment (`beat pause --all`): the stop key written in one MULTI with its
   * `pause-all` audit event, then the replicas told. From then on every publishing script refuses
   * (includes/stop.lua). Returns the stop in force and whether this call set it (false: it was
   * already set, and nothing is written).
   */
  async stopDeployment(nowMs: number, audit?: AuditContext): Promise<{ stop: DeploymentStop; changed: boolean }> {
    const context = this.auditOf(audit);
    const current = await this.deploymentStop();
    if (current !== undefined) return { stop: current, changed: false };
    const stop: DeploymentStop = { by: context.who, atMs: nowMs, ...(context.note === undefined ? {} : { note: context.note }) };
    const multi = this.client.multi().set(this.keys.stop, encodeDeploymentStop(stop));
    await this.commitAudited(multi, [auditEvent(context, nowMs, '', 'pause-all', [])], context);
    return { stop, changed: true };
  }

  /**
   * Lifts the deployment-wide stop (`beat resume --all`): the key deleted in one MULTI with its
   * `resume-all` audit event (naming the stop it lifted). Returns the stop it lifted, or undefined
   * when none was set (nothing is written).
   */
  async resumeDeployment(nowMs: number, audit?: AuditContext): Promise<DeploymentStop | undefined> {
    const context = this.auditOf(audit);
    const current = await this.deploymentStop();
    if (current === undefined) return undefined;
    const multi = this.client.multi().del(this.keys.stop);
    const lifted = {
      path: 'stop',
      before: `by ${current.by} since ${deploymentStopView(current).since}${current.note === undefined ? '' : `: ${current.note}`}`,
    };
    await this.commitAudited(multi, [auditEvent(context, nowMs, '', 'resume-all', [lifted])], context);
    return current;
  }

  /**
   * Refuses a manual run or backfill while the deployment is stopped (DEPLOYMENT_STOPPED: exit 1,
   * HTTP 409), naming the stop and `beat resume --all`: queued, it would wait unpublished (the
   * scripts refuse it) and its requester would wait in vain.
   */
  private async refuseWhileStopped(action: string): Promise<void> {
    const stop = await this.deploymentStop();
    if (stop !== undefined) throw new BeatError(ErrorCode.DeploymentStopped, stoppedRefusal(action, deploymentStopView(stop)));
  }

  /** The last note given with a pause, resume or trigger of each entry. */
  notes(): Promise<Map<string, ControlNote>> {
    return this.notesIn('notes', decodeControlNote);
  }

  /** Why each paused entry was paused (its note), by entry name; entries without a note are absent. */
  pauseNotes(): Promise<Map<string, PauseNote>> {
    return this.notesIn('pauseNotes', decodePauseNote);
  }

  /** A hash of notes by entry name, each decoded; one that does not decode is left out, as none. */
  private async notesIn<Note>(key: 'notes' | 'pauseNotes', decode: (text: string) => Note | undefined): Promise<Map<string, Note>> {
    let all: Record<string, string>;
    try {
      all = await this.client.hgetall(this.keys[key]);
    } catch (error) {
      throw await nameWrongType(this.client, error, typedKeys(this.keys, [key]));
    }
    const out = new Map<string, Note>();
    for (const [entry, text] of Object.entries(all)) {
      const note = decode(text);
      if (note !== undefined) out.set(entry, note);
    }
    return out;
  }

  /**
   * Queues one entry's pause or resume on `multi`: its note (the entry's last note; a pause's also its
   * pause note, which a resume removes with pauseOnFailure's count of failures), the paused set, and a
   * resume's instant. The note, when there is one, comes first: setPaused reads the paused set's reply after it.
   */
  private queuePause(multi: ChainableCommander, entry: string, paused: boolean, nowMs: number, context: AuditContext): void {
    const { note } = context;
    if (note !== undefined)
      multi.hset(this.keys.notes, entry, encodeControlNote({ action: paused ? 'pause' : 'resume', note, by: context.who, atMs: nowMs }));
    if (paused) multi.sadd(this.keys.paused, entry);
    else multi.srem(this.keys.paused, entry).hset(this.keys.resumed, entry, String(nowMs)).hdel(this.keys.failures, entry);
    if (paused && note !== undefined) multi.hset(this.keys.pauseNotes, entry, encodePauseNote({ note, by: context.who, atMs: nowMs }));
    if (!paused) multi.hdel(this.keys.pauseNotes, entry);
  }

  /**
   * Pauses or resumes; returns false when the entry already was in that state. A resume also records
   * its instant, so that a leader that starts later (restart, failover, reload) skips the slots that
   * passed while the entry was paused instead of catching them up.
   */
  async setPaused(entry: string, paused: boolean, nowMs: number, audit?: AuditContext): Promise<boolean> {
    const context = this.auditOf(audit);
    const { note } = context;
    const multi = this.client.multi();
    this.queuePause(multi, entry, paused, nowMs, context);
    // In the same MULTI: a pause or resume is never without its record (one of a paused entry too, with its note).
    const event = auditEvent(context, nowMs, entry, paused ? 'pause' : 'resume', []);
    const replies = await this.commitAudited(multi, [event], context);
    return replies[note === undefined ? 0 : 1]?.[1] === 1;
  }

  /**
   * A bulk pause or resume (`-l`): every entry of `entries` at once, in one MULTI with the action's
   * one audit event (its selector and the entries it changed). Returns the entries it changed (those
   * not already in that state); none changed records nothing.
   */
  async setPausedMany(
    entries: readonly string[],
    paused: boolean,
    nowMs: number,
    selector: string,
    audit?: AuditContext,
  ): Promise<string[]> {
    const context = this.auditOf(audit);
    const now = await this.paused();
    const changing = entries.filter((entry) => now.has(entry) !== paused);
    if (changing.length === 0) return [];
    const multi = this.client.multi();
    for (const entry of changing) this.queuePause(multi, entry, paused, nowMs, context);
    const event = { ...auditEvent(context, nowMs, '', paused ? 'pause' : 'resume', []), selector, entries: changing };
    await this.commitAudited(multi, [event], context);
    return changing;
  }

  /**
   * Runs a pause's or resume's MULTI with its audit event in it (never a change without its record),
   * names a key of another type that refused it, then logs the event and tells the replicas.
   */
  /**
   * Commits `multi` with the audit `events` (one MULTI, all or nothing), logs them and tells the
   * leader; a key of `written` that holds another Redis type is named in the error.
   */
  private async commitAudited(
    multi: ReturnType<RedisClient['multi']>,
    events: readonly Parameters<AuditLog['addTo']>[1][],
    context: AuditContext,
    written: Parameters<typeof typedKeys>[1] = ['notes', 'paused', 'resumed', 'failures', 'pauseNotes', 'stop', 'audit'],
  ): Promise<[error: Error | null, result: unknown][]> {
    const log = new AuditLog(this.client, this.keys, context.maxEvents);
    await log.checkKey();
    for (const event of events) log.addTo(multi, event);
    let replies: [error: Error | null, result: unknown][];
    try {
      replies = (await multi.exec()) ?? [];
      const failed = replies.find(([error]) => error !== null)?.[0];
      if (failed) throw failed;
    } catch (error) {
      throw await nameWrongType(this.client, error, typedKeys(this.keys, written));
    }
    logAudit(context.logger, events);
    await this.client.publish(this.keys.events, CONTROL_MESSAGE);
    return replies;
  }

  /**
   * The current leader, if the lock is held by the instance the leader hash names, with its config
   * fingerprint (without the entry names: see `compareWithLeader`).
   */
  async leader(): Promise<LeaderInfo | undefined> {
    const fields = ['instance', 'since', 'token', 'configHash', 'entriesHash', 'entryCount'] as const;
    let values: (string | null)[];
    let lockValue: string | null;
    try {
      [values, lockValue] = await Promise.all([this.client.hmget(this.keys.leader, ...fields), this.client.get(this.keys.lock)]);
    } catch (error) {
      throw await nameWrongType(this.client, error, typedKeys(this.keys, ['leader', 'lock']));
    }
    const info = Object.fromEntries(fields.map((f, i) => [f, values[i] ?? undefined])) as Record<
      (typeof fields)[number],
      string | undefined
    >;
    if (lockValue === null || info.token !== lockValue || info.instance === undefined) return undefined;
    const fingerprint = parseFingerprint(info);
    return { instance: info.instance, sinceMs: Number(info.since), ...(fingerprint ? { fingerprint } : {}) };
  }

  /**
   * The leader, and how `own` differs from the config it runs. The entry names are read only when
   * they differ (they can be many), and not at all when `known` already holds them for that hash.
   */
  async compareWithLeader(
    own: ConfigFingerprint,
    deployment: string,
    known?: Map<string, readonly string[] | undefined>,
  ): Promise<{ leader: LeaderInfo | undefined; mismatch: ConfigMismatch | undefined }> {
    const leader = await this.leader();
    let theirs = leader?.fingerprint;
    if (leader === undefined || theirs === undefined || theirs.configHash === own.configHash) return { leader, mismatch: undefined };
    if (theirs.entriesHash !== own.entriesHash) {
      let names = known?.get(theirs.entriesHash);
      if (names === undefined) {
        names = parseFingerprint({
          ...fingerprintFields(theirs),
          entryNames: (await this.client.hget(this.keys.leader, 'entryNames')) ?? undefined,
        })?.entryNames;
        known?.set(theirs.entriesHash, names);
      }
      theirs = { ...theirs, entryNames: names };
    }
    return { leader, mismatch: compareFingerprint(own, theirs, deployment, leader.instance) };
  }

  /** The entry names of the leading config file (its fingerprint's); undefined without a leader, or with too many to publish. */
  async leaderEntryNames(): Promise<readonly string[] | undefined> {
    const fingerprint = (await this.leader())?.fingerprint;
    if (fingerprint === undefined) return undefined;
    const names = (await this.client.hget(this.keys.leader, 'entryNames')) ?? undefined;
    return parseFingerprint({ ...fingerprintFields(fingerprint), entryNames: names })?.entryNames;
  }

  /**
   * Rewrites the leader's fingerprint after a reload, only while `token` still holds the fence
   * (leader-info.lua): a deposed leader must not overwrite its successor's record.
   */
  async updateLeaderFingerprint(token: string, fingerprint: ConfigFingerprint): Promise<boolean> {
    const pairs = Object.entries(fingerprintFields(fingerprint)).flat();
    return (await withScripts(this.client).leaderInfo(2, this.keys.fence, this.keys.leader, token, ...pairs)) === 1;
  }

  async requestTrigger(request: TriggerRequest, audit?: AuditContext): Promise<string> {
    const [text] = await this.requestTriggers([request], undefined, audit);
    return text ?? JSON.stringify(request);
  }

  /**
   * Queues manual runs for the leader in one MULTI with their audit: one event each, or, for a bulk
   * trigger (`selector`), the action's one event naming its selector and every entry. Returns each
   * request's text (to withdraw it with cancelTrigger).
   */
  async requestTriggers(requests: readonly TriggerRequest[], selector: string | undefined, audit?: AuditContext): Promise<string[]> {
    await this.refuseWhileStopped('manual run');
    const context = this.auditOf(audit);
    const multi = this.client.multi();
    const texts: string[] = [];
    const events: AuditEvent[] = [];
    for (const request of requests) {
      const text = JSON.stringify(request);
      texts.push(text);
      multi.rpush(this.keys.triggers, text);
      const note = request.note ?? context.note;
      if (note !== undefined)
        multi.hset(this.keys.notes, request.entry, encodeControlNote({ action: 'trigger', note, by: context.who, atMs: request.at }));
      if (selector === undefined)
        events.push(
          auditEvent({ ...context, ...(note === undefined ? {} : { note }) }, request.at, request.entry, 'trigger', [], request.id),
        );
    }
    const at = requests[0]?.at;
    if (selector !== undefined && at !== undefined)
      events.push({ ...auditEvent(context, at, '', 'trigger', []), selector, entries: requests.map((r) => r.entry) });
    await this.commitAudited(multi, events, context, ['triggers', 'notes', 'audit']);
    return texts;
  }

  /** The dead-letter list (issue 70), oldest first; an item that does not decode (something else wrote it) is skipped. */
  async deadLetters(): Promise<DeadLetter[]> {
    try {
      const ids = await this.client.zrange(this.keys.deadLetters, '0', '-1');
      const texts = ids.length === 0 ? [] : await this.client.hmget(this.keys.deadLetterItems, ...ids);
      return texts.flatMap((text) => {
        const letter = text === null ? undefined : decodeDeadLetter(text);
        return letter === undefined ? [] : [letter];
      });
    } catch (error) {
      throw await nameWrongType(this.client, error, typedKeys(this.keys, ['deadLetters', 'deadLetterItems']));
    }
  }

  /** How many items the dead-letter list holds. */
  deadLetterCount(): Promise<number> {
    return this.client.zcard(this.keys.deadLetters);
  }

  /**
   * Takes dead letters off the list, all or nothing (lua/dead-letters.lua), with their audit: one
   * event each, or a selection's one. A replay queues each one's manual run (`requests`, in the
   * letters' order) in the same step, for the leader's fenced trigger publish. Refused while the
   * deployment is stopped (a replay only: a discard publishes nothing); NOT_FOUND naming the id when
   * one is no longer on the list.
   */
  async takeDeadLetters(
    letters: readonly DeadLetter[],
    requests: readonly TriggerRequest[] | undefined,
    selector: string | undefined,
    nowMs: number,
    audit?: AuditContext,
  ): Promise<void> {
    if (requests !== undefined) await this.refuseWhileStopped('dead-letter replay');
    const context = this.auditOf(audit);
    const action = requests === undefined ? 'dead-letter-discard' : 'dead-letter-replay';
    const events: AuditEvent[] =
      selector === undefined
        ? letters.map((l, i) => auditEvent(context, nowMs, l.entry, action, [], requests?.[i]?.id ?? l.id))
        : [
            {
              ...auditEvent(context, nowMs, '', action, []),
              selector,
              entries: [...new Set(letters.map((l) => l.entry))],
              // The items it took, bounded: one event stays small however many a selector reaches.
              items: letters.slice(0, AUDIT_ITEMS_MAX).map((l) => l.id),
              ...(letters.length > AUDIT_ITEMS_MAX ? { itemCount: letters.length } : {}),
            },
          ];
    const keys = this.deadLetterKeys();
    const args = [requests === undefined ? 'discard' : 'replay', String(auditCap(context.maxEvents))];
    // Pushed one by one: a selection may take up to deadLetters.maxItems items, too many to spread into a call.
    args.push(String(letters.length));
    for (const l of letters) args.push(l.id);
    for (const r of requests ?? []) args.push(JSON.stringify(r));
    args.push(String(events.length));
    for (const event of events) {
      const fields = auditFields(event);
      args.push(String(fields.length));
      for (const field of fields) args.push(field);
    }
    let reply: number | unknown[];
    try {
      reply = await withScripts(this.client).deadLetters(keys.length, [...keys, ...args]);
    } catch (error) {
      throw await nameWrongType(
        this.client,
        error,
        typedKeys(this.keys, ['deadLetters', 'deadLetterItems', 'triggers', 'audit', 'state', 'entries']),
      );
    }
    // Stopped after the look above (the script's own check): nothing was taken.
    if (reply === -3) {
      const stop = await this.deploymentStop();
      throw new BeatError(
        ErrorCode.DeploymentStopped,
        stop === undefined
          ? 'dead-letter replay: the deployment was stopped (beat pause --all) while the replay was asked for; nothing was taken: try again'
          : stoppedRefusal('dead-letter replay', deploymentStopView(stop)),
      );
    }
    if (Array.isArray(reply) && reply[0] === 2)
      throw new BeatError(
        ErrorCode.UnknownEntry,
        `dead-letter replay: the entry ${shown(String(reply[2]))} of dead letter ${String(reply[1])} was deleted or created again since its run: discard it (its run would publish the entry of that name now, another one); nothing was done`,
      );
    if (Array.isArray(reply))
      throw new BeatError(
        ErrorCode.DeadLetterNotFound,
        `dead letter ${String(reply[1])} is no longer on the list (replayed or discarded meanwhile, or dropped by its bound); nothing was done`,
      );
    logAudit(context.logger, events);
    if (requests !== undefined) await this.client.publish(this.keys.events, CONTROL_MESSAGE);
  }

  /** lua/dead-letters.lua's keys. */
  private deadLetterKeys(): string[] {
    const k = this.keys;
    return [k.deadLetters, k.deadLetterItems, k.triggers, k.audit, k.stop, k.state, k.entries];
  }

  /** Withdraws a request nobody has published yet; false when it is gone (published meanwhile). */
  async cancelTrigger(text: string): Promise<boolean> {
    return (await this.client.lrem(this.keys.triggers, 1, text)) === 1;
  }

  async wasTriggered(taskId: string): Promise<boolean> {
    return (await this.client.exists(this.keys.triggered(taskId))) === 1;
  }

  /**
   * Why the leader refused a manual run, with the fix, if it did. The confirmation key says
   * "refused <queue key> <type>" (trigger-fenced.lua: that key holds another Redis type) or
   * "refused: <why>" (commit-trigger.lua: the AMQP broker refused the message, the fix included).
   */
  async triggerRefusal(taskId: string): Promise<string | undefined> {
    const value = await this.client.get(this.keys.triggered(taskId));
    if (value?.startsWith('refused: ') === true) return value.slice('refused: '.length);
    if (value?.startsWith('refused ') !== true) return undefined;
    const refusal = value.slice('refused '.length);
    const [key, type] = [refusal.slice(0, refusal.lastIndexOf(' ')), refusal.slice(refusal.lastIndexOf(' ') + 1)];
    return `its queue key ${JSON.stringify(key)} holds a ${type}, not a list; route the entry to another queue, or remove that key`;
  }

  /** Pending requests, oldest first, as stored (the text is what the trigger script removes). */
  async dueRetries(nowMs: number, max: number, skip = 0): Promise<{ member: string; retry: PendingRetry | undefined }[]> {
    const flat = await this.client
      .zrangebyscore(this.keys.retries, '-inf', nowMs, 'WITHSCORES', 'LIMIT', skip, max)
      .catch(async (error: unknown) => {
        throw await nameWrongType(this.client, error, [[this.keys.retries, 'zset']]);
      });
    const out: { member: string; retry: PendingRetry | undefined }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const member = flat[i] as string;
      out.push({ member, retry: decodeRetryMember(member, Number(flat[i + 1])) });
    }
    return out;
  }

  /** The runs waiting for a place in their concurrency group, counted by group (`beat status`). */
  async waitingByGroup(): Promise<Map<string, number>> {
    const members = await this.client.zrange(this.keys.waiting, '0', '-1').catch(async (error: unknown) => {
      throw await nameWrongType(this.client, error, [[this.keys.waiting, 'zset']]);
    });
    const counts = new Map<string, number>();
    for (const member of members) {
      const run = decodeWaitingMember(member);
      if (run !== undefined) counts.set(run.group, (counts.get(run.group) ?? 0) + 1);
    }
    return counts;
  }

  async discardRetry(member: string): Promise<void> {
    await this.client.zrem(this.keys.retries, member);
  }

  async pendingTriggers(max: number): Promise<{ text: string; request: TriggerRequest | undefined }[]> {
    const texts = await this.client.lrange(this.keys.triggers, 0, max - 1);
    return texts.map((text) => {
      try {
        const parsed = JSON.parse(text) as Partial<TriggerRequest>;
        const ok =
          typeof parsed.entry === 'string' &&
          typeof parsed.id === 'string' &&
          typeof parsed.at === 'number' &&
          (parsed.slot === undefined || (typeof parsed.slot === 'number' && Number.isFinite(parsed.slot))) &&
          (parsed.replays === undefined || typeof parsed.replays === 'string') &&
          (parsed.item === undefined || typeof parsed.item === 'string');
        return { text, request: ok ? (parsed as TriggerRequest) : undefined };
      } catch {
        return { text, request: undefined };
      }
    });
  }

  /**
   * Drops a request that cannot be honoured (malformed, too old, or for an entry this config lacks);
   * a replay's puts its dead letter back on the list in the same step (lua/dead-letters.lua
   * 'restore'). Whether an item went back.
   */
  async discardTrigger(text: string, request?: TriggerRequest): Promise<boolean> {
    const restore = request === undefined ? undefined : this.restoreArgs(request);
    if (request === undefined || restore === undefined) {
      await this.client.lrem(this.keys.triggers, 1, text);
      return false;
    }
    return this.restore('restore', text, request.id, restore);
  }

  /**
   * A replay's dead letter put back once a script refused its request and removed it (its
   * confirmation key says so; lua/dead-letters.lua 'restore'): nothing while the request is still
   * pending or was published. Whether an item went back.
   */
  async restoreDeadLetter(request: TriggerRequest, text: string): Promise<boolean> {
    const restore = this.restoreArgs(request);
    return restore === undefined ? false : this.restore('restore-refused', text, request.id, restore);
  }

  private restoreArgs(request: TriggerRequest): [string, string, string] | undefined {
    const letter = request.replays === undefined || request.item === undefined ? undefined : decodeDeadLetter(request.item);
    return letter === undefined || letter.id !== request.replays ? undefined : [letter.id, String(letter.atMs), request.item ?? ''];
  }

  private async restore(
    mode: 'restore' | 'restore-refused',
    text: string,
    taskId: string,
    [id, score, item]: [string, string, string],
  ): Promise<boolean> {
    const keys = [...this.deadLetterKeys(), this.keys.triggered(taskId)];
    try {
      const reply = await withScripts(this.client).deadLetters(keys.length, [...keys, mode, text, id, score, item]);
      return Array.isArray(reply) && reply[1] === 1;
    } catch (error) {
      throw await nameWrongType(this.client, error, typedKeys(this.keys, ['deadLetters', 'deadLetterItems', 'triggers', 'audit']));
    }
  }

  /**
   * Queues a backfill for the leader (lua/backfill-fenced.lua works through it), with its audit
   * event in the same MULTI; returns the request as stored (what `cancelBackfill` withdraws).
   */
  async requestBackfill(request: BackfillRequest, audit?: AuditContext): Promise<string> {
    const [text] = await this.requestBackfills([request], undefined, audit);
    return text ?? encodeBackfillRequest(request);
  }

  /**
   * Queues backfills for the leader in one MULTI with their audit: one event each (its range and
   * overlap), or, for a bulk backfill (`selector`), the action's one event naming its selector, the
   * range and every entry. Returns each request's text (to withdraw it with cancelBackfill).
   */
  async requestBackfills(requests: readonly BackfillRequest[], selector: string | undefined, audit?: AuditContext): Promise<string[]> {
    await this.refuseWhileStopped('backfill');
    const context = this.auditOf(audit);
    const multi = this.client.multi();
    const texts: string[] = [];
    const events: AuditEvent[] = [];
    const changesOf = (request: BackfillRequest): FieldChange[] => {
      const range = { path: 'range', after: `${new Date(request.fromMs).toISOString()} .. ${new Date(request.toMs).toISOString()}` };
      return request.overlap === undefined ? [range] : [range, { path: 'overlap', after: request.overlap }];
    };
    for (const request of requests) {
      const text = encodeBackfillRequest(request);
      texts.push(text);
      multi.rpush(this.keys.backfills, text);
      const note = request.note ?? context.note;
      if (selector === undefined)
        events.push(
          auditEvent(
            { ...context, ...(note === undefined ? {} : { note }) },
            request.at,
            request.entry,
            'backfill',
            changesOf(request),
            request.id,
          ),
        );
    }
    const first = requests[0];
    if (selector !== undefined && first !== undefined)
      events.push({ ...auditEvent(context, first.at, '', 'backfill', changesOf(first)), selector, entries: requests.map((r) => r.entry) });
    await this.commitAudited(multi, events, context, ['backfills', 'audit']);
    return texts;
  }

  /** Withdraws a backfill the leader has not finished; false when it is gone (done meanwhile). */
  async cancelBackfill(text: string): Promise<boolean> {
    return (await this.client.lrem(this.keys.backfills, 1, text)) === 1;
  }

  /** A request's progress, or undefined when no leader has begun it (or it expired, an hour after its last step). */
  async backfillProgress(id: string): Promise<BackfillProgress | undefined> {
    return decodeBackfillProgress(await this.client.hgetall(this.keys.backfill(id)));
  }

  async backfillThrough(id: string): Promise<number | undefined> {
    return (await this.backfillProgress(id))?.throughMs;
  }

  /** Pending backfill requests, oldest first, as stored. */
  async pendingBackfills(max: number): Promise<{ text: string; request: BackfillRequest | undefined }[]> {
    let texts: string[];
    try {
      texts = await this.client.lrange(this.keys.backfills, 0, max - 1);
    } catch (error) {
      throw await nameWrongType(this.client, error, typedKeys(this.keys, ['backfills']));
    }
    return texts.map((text) => ({ text, request: decodeBackfillRequest(text) }));
  }

  /** Removes a request the leader cannot honour, saying why in its progress for the requester (one hour). */
  async refuseBackfill(text: string, id: string | undefined, reason: string, nowMs: number): Promise<void> {
    const multi = this.client.multi().lrem(this.keys.backfills, 1, text);
    // The entry too, when the request says it: the API answers a progress through its own entry only.
    const entry = decodeBackfillRequest(text)?.entry;
    if (id !== undefined)
      multi
        .hset(this.keys.backfill(id), { error: reason, done: String(nowMs), ...(entry === undefined ? {} : { entry }) })
        .expire(this.keys.backfill(id), 3600);
    await multi.exec();
  }
}
