/**
 * The audit trail in Redis: one capped stream per deployment (keys.ts `audit`), an entry per change
 * to an entry (control/audit-events.ts), newest last. Writers add events to the same MULTI as the change
 * where they can (pause, resume, trigger); the entry store records its writes right after its script
 * (see entry-store.ts). Readers page it newest first, optionally for one entry.
 */
import { hostname, userInfo } from 'node:os';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './connect.js';
import { DEFAULTS } from '../base/defaults.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { alertUrlsMasked, auditConcerns, auditNote } from '../control/audit-events.js';
import type { AuditEvent, FieldChange } from '../control/audit-events.js';
import { AUDIT_ACTIONS } from '../control/audit-event-view.js';
import type { AuditAction } from '../control/audit-event-view.js';
import type { SchedulerKeys } from './keys.js';
import { typedKeys } from './keys.js';
import { nameWrongType, placeOf, redisRefusal } from './server-errors.js';
import { withScripts } from './scripts.js';

/** Who makes a change and why, handed to every write that changes an entry. */
export interface AuditContext {
  /** A token's name, `dashboard:<name>`, or `user@host` (localActor()). */
  readonly who: string;
  /** The grant that allowed the change (core/grants.ts, as the tokens file writes it); absent for the CLI, which holds every role. */
  readonly grant?: string | undefined;
  readonly note?: string | undefined;
  /** The stream's cap (the config's audit.maxEvents). */
  readonly maxEvents?: number | undefined;
  /** Where `beat.audit` lines go (beat run's log); the CLI and the client have none. */
  readonly logger?: Logger | undefined;
}

/** The user and host of this process, as the CLI and the client are recorded: `alice@build-7`. */
export function localActor(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    // A container's uid without a passwd entry.
    user = process.env['USER'] ?? `uid${process.getuid?.() ?? '?'}`;
  }
  return `${user}@${hostname()}`;
}

/** Stream entries written per script call, and read per XREVRANGE while looking for one entry's events. */
const CHUNK = 1000;
/** An event for one entry is looked for among at most this many newer events (the whole stream at its default cap). */
const SCAN_MAX = DEFAULTS.auditMaxEvents * 2;

/** The stream's cap: the config's audit.maxEvents, else the default. */
export function auditCap(maxEvents: number | undefined): number {
  return maxEvents ?? DEFAULTS.auditMaxEvents;
}

export function auditEvent(
  context: AuditContext,
  atMs: number,
  entry: string,
  action: AuditAction,
  changes: readonly FieldChange[],
  taskId?: string,
): AuditEvent {
  const note = auditNote(context.note);
  return {
    atMs,
    who: context.who,
    ...(context.grant === undefined ? {} : { grant: context.grant }),
    entry,
    action,
    changes,
    ...(note === undefined ? {} : { note }),
    ...(taskId === undefined ? {} : { taskId }),
  };
}

export class AuditLog {
  private readonly maxEvents: number;

  constructor(
    private readonly client: RedisClient,
    private readonly keys: Pick<SchedulerKeys, 'audit'>,
    maxEvents: number | undefined = DEFAULTS.auditMaxEvents,
  ) {
    this.maxEvents = maxEvents ?? DEFAULTS.auditMaxEvents;
  }

  /**
   * Refuses (naming the key and the fix) when the audit key holds another type, before the change it
   * would record is made: a MULTI does not undo its other commands when the XADD fails.
   */
  async checkKey(): Promise<void> {
    const found = await this.client.type(this.keys.audit);
    if (found === 'stream' || found === 'none') return;
    const error = new Error(`WRONGTYPE ${this.keys.audit} holds a ${found}, not the audit stream`);
    throw redisRefusal(error, placeOf(this.client, { key: this.keys.audit, keyHolds: 'stream', keyFound: found })) ?? error;
  }

  /** Queues the event's XADD on a MULTI or pipeline: recorded with the change, or not at all. */
  addTo(batch: ChainableCommander, event: AuditEvent): void {
    batch.call('XADD', [this.keys.audit, 'MAXLEN', '~', String(this.maxEvents), '*', ...auditFields(event)]);
  }

  /**
   * Records events in order, CHUNK to a call of audit-append.lua: each run of events that share
   * their time, author and note (a write's) and have no task id goes as one call (a pipeline of an
   * XADD each cost an import of 100,000 entries more than its writes); any other event as one XADD.
   */
  async record(events: readonly AuditEvent[]): Promise<void> {
    const scripts = withScripts(this.client);
    for (let i = 0; i < events.length;) {
      const first = events[i] as AuditEvent;
      const args = [this.keys.audit, String(this.maxEvents), String(first.atMs), first.who, first.note ?? '', first.grant ?? '', ''];
      let n = 0;
      for (; i < events.length && n < CHUNK; i += 1, n += 1) {
        const event = events[i] as AuditEvent;
        if (
          event.taskId !== undefined ||
          event.atMs !== first.atMs ||
          event.who !== first.who ||
          event.note !== first.note ||
          event.grant !== first.grant
        )
          break;
        args.push(event.entry, event.action, JSON.stringify(event.changes));
      }
      try {
        if (n > 0) {
          args[6] = String(n);
          await scripts.auditAppend(1, args);
        } else {
          const batch = this.client.pipeline();
          this.addTo(batch, first);
          i += 1;
          const failed = ((await batch.exec()) ?? []).find(([error]) => error !== null)?.[0];
          if (failed) throw failed;
        }
      } catch (error) {
        throw await nameWrongType(this.client, error, typedKeys(this.keys as SchedulerKeys, ['audit']));
      }
    }
  }

  /**
   * Up to `limit` events, newest first, older than the event `before` (an id from an earlier page),
   * of one entry or of all.
   */
  async read(options: { entry?: string | undefined; limit: number; before?: string | undefined }): Promise<AuditEvent[]> {
    const out: AuditEvent[] = [];
    let end = options.before === undefined ? '+' : `(${options.before}`;
    let scanned = 0;
    while (out.length < options.limit && scanned < SCAN_MAX) {
      const count = options.entry === undefined ? options.limit - out.length : CHUNK;
      let rows: [string, string[]][];
      try {
        rows = await this.client.xrevrange(this.keys.audit, end, '-', 'COUNT', count);
      } catch (error) {
        throw await nameWrongType(this.client, error, typedKeys(this.keys as SchedulerKeys, ['audit']));
      }
      for (const [id, fields] of rows) {
        const event = decode(id, fields);
        if (event !== undefined && (options.entry === undefined || auditConcerns(event, options.entry))) out.push(event);
        if (out.length >= options.limit) break;
      }
      scanned += rows.length;
      const last = rows[rows.length - 1];
      if (last === undefined || rows.length < count) break;
      end = `(${last[0]}`;
    }
    return out;
  }
}

/** Logs each event as `beat.audit`; past 100 in one write, one line says how many more. */
export function logAudit(logger: Logger | undefined, events: readonly AuditEvent[]): void {
  if (logger === undefined) return;
  for (const event of events.slice(0, 100)) {
    logger.info(
      {
        event: EVENTS.audit,
        who: event.who,
        ...(event.grant === undefined ? {} : { grant: event.grant }),
        entry: event.entry,
        action: event.action,
        changes: event.changes,
        ...(event.note === undefined ? {} : { note: event.note }),
        ...(event.taskId === undefined ? {} : { taskId: event.taskId }),
        ...(event.selector === undefined ? {} : { selector: event.selector, entries: event.entries?.length ?? 0 }),
      },
      event.selector === undefined
        ? `${event.who}: ${event.action} ${event.entry}`
        : `${event.who}: ${event.action} -l ${event.selector} (${event.entries?.length ?? 0} entries)`,
    );
  }
  if (events.length > 100) {
    logger.info(
      { event: EVENTS.audit, who: events[0]?.who, count: events.length, more: events.length - 100 },
      `${events.length - 100} more changes in the same write (beat audit lists them)`,
    );
  }
}

function decode(id: string, fields: string[]): AuditEvent | undefined {
  const get = (name: string): string | undefined => {
    for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
    return undefined;
  };
  const action = get('action');
  const entry = get('entry');
  if (entry === undefined || !(AUDIT_ACTIONS as readonly string[]).includes(action ?? '')) return undefined;
  let changes: FieldChange[] = [];
  try {
    const parsed = JSON.parse(get('changes') ?? '[]') as unknown;
    if (Array.isArray(parsed))
      changes = parsed.filter((c): c is FieldChange => typeof (c as FieldChange)?.path === 'string').map(alertUrlsMasked);
  } catch {
    // A hand-written event without a readable diff still says who did what.
  }
  const at = Number(get('at'));
  const note = get('note');
  const grant = get('grant');
  const taskId = get('task');
  const selector = get('selector');
  return {
    id,
    atMs: Number.isFinite(at) ? at : Number(id.split('-')[0]),
    who: get('who') ?? '?',
    ...(grant === undefined ? {} : { grant }),
    entry,
    action: action as AuditAction,
    changes,
    ...(note === undefined ? {} : { note }),
    ...(taskId === undefined ? {} : { taskId }),
    ...(selector === undefined ? {} : { selector, entries: decodeNames(get('entries')) }),
    ...(get('items') === undefined ? {} : { items: decodeNames(get('items')) }),
    ...(Number.isInteger(Number(get('itemCount') ?? 'x')) ? { itemCount: Number(get('itemCount')) } : {}),
  };
}

/** A bulk event's entries (a JSON list of names); a hand-written one that is not reads as none. */
function decodeNames(text: string | undefined): string[] {
  try {
    const parsed = JSON.parse(text ?? '[]') as unknown;
    return Array.isArray(parsed) ? parsed.filter((n): n is string => typeof n === 'string') : [];
  } catch {
    return [];
  }
}

/** An event's fields and values as the stream holds them (XADD's tail; a script that adds events takes them so too). */
export function auditFields(event: AuditEvent): string[] {
  const fields = ['at', String(event.atMs), 'who', event.who, 'entry', event.entry, 'action', event.action];
  fields.push('changes', JSON.stringify(event.changes));
  if (event.note !== undefined) fields.push('note', event.note);
  if (event.grant !== undefined) fields.push('grant', event.grant);
  if (event.taskId !== undefined) fields.push('task', event.taskId);
  if (event.selector !== undefined) fields.push('selector', event.selector, 'entries', JSON.stringify(event.entries ?? []));
  if (event.items !== undefined) fields.push('items', JSON.stringify(event.items));
  if (event.itemCount !== undefined) fields.push('itemCount', String(event.itemCount));
  return fields;
}
