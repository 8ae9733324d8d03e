/**
 * The leader's side of live control: every wake-up (at most a second apart, and at once when a CLI
 * announces a change over pub/sub, or when a run finishes that a backfill waits for) it reads the
 * paused set and the pending manual runs, hands the paused set to the runner, publishes each manual
 * run exactly once through the fenced trigger script, then works through the pending backfills
 * (backfill-work.ts), then publishes the retry attempts that are due and the waiting runs whose
 * concurrency group has a place (issue 70), each once through retry-fenced.lua. A manual run of a
 * RedBeat or django entry is checked against its source first (before-publish.ts): it runs as the
 * entry is then, and one deleted is an entry it lacks.
 */
import { compileMessageTemplate, messageOutcomeParts, renderTaskMessage } from '../celery/message.js';
import { attemptMessage } from '../celery/attempt-message.js';
import { RetryPublishResult } from '../ports/outcomes.js';
import type { PendingAttempt } from '../ports/outcomes.js';
import type { SchedulerEvents } from '../ports/events.js';
import type { MessageEnv } from '../celery/message.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import { configEntryNamed } from '../config/resolve.js';
import { DEFAULTS } from '../base/defaults.js';
import { PokedLoop } from '../base/poked-loop.js';
import { errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { TriggerResult } from '../ports/control-source.js';
import type { BackfillSource, ControlSource, TriggerPublisher, TriggerRequest } from '../ports/control-source.js';
import { pendingBackfills, workBackfills } from './backfill-work.js';
import type { BackfillWorkOptions } from './backfill-work.js';
import { checkedEntry } from './before-publish.js';
import type { BeforePublish } from './before-publish.js';
import type { RunRevoked } from '../ports/events.js';
import type { RunningRuns } from '../ports/outcomes.js';
import type { DeploymentStop } from '../ports/control-source.js';
import type { Revoker } from '../ports/revoker.js';
import { releaseWaiting } from './concurrency-gate.js';
import type { ConcurrencyGate } from './concurrency-gate.js';

/** Manual-run requests (`beat trigger`) read per look of the control loop; the rest wait for the next look. */
const TRIGGERS_PER_WAKE = 100;
/**
 * Pages of due attempts that one look reads past those of paused entries (they stay pending): up
 * to this many times TRIGGERS_PER_WAKE held attempts keep none due behind them from going out.
 */
const HELD_PAGES_PER_WAKE = 100;
/**
 * A manual-run request older than this is discarded, not published. `beat trigger` waits at most
 * 300 s and then withdraws its request, but a CLI killed while waiting (Ctrl-C with no leader up)
 * never does, and the next leader, maybe days later, must not publish it. The margin over 300 s
 * absorbs clock skew between the CLI's machine and the leader.
 */
const TRIGGER_MAX_AGE_MS = 15 * 60_000;

export interface ControlLoopOptions {
  readonly config: ResolvedConfig;
  readonly source: ControlSource;
  readonly publisher: TriggerPublisher;
  readonly messageEnv: MessageEnv;
  readonly logger: Logger;
  readonly now: () => number;
  readonly lease: () => string | undefined;
  readonly onPaused: (paused: ReadonlySet<string>) => void;
  /** The deployment-wide stop as read at each look (undefined: not stopped). */
  readonly onDeploymentStop?: (stop: DeploymentStop | undefined) => void;
  readonly intervalMs: number;
  /** A runtime entry (store, RedBeat, django) of this name, for manual runs of those. */
  readonly findRuntimeEntry?: (name: string) => ResolvedEntry | undefined;
  /** Manual runs and backfill steps of entries of its origins are checked before they are published. */
  readonly beforePublish?: BeforePublish | undefined;
  /** What a backfill's overlap policy asks of outcomes and the remote control (backfill-walk.ts). */
  readonly running?: RunningRuns | undefined;
  readonly revoker?: Revoker | undefined;
  readonly revoked?: ((revoke: RunRevoked) => void) | undefined;
  /** A slot's later attempt was published (SchedulerEvents.retryPublished: the tracker follows it). */
  readonly retryPublished?: SchedulerEvents['retryPublished'] | undefined;
  /** Concurrency groups (the runner's): their waiting runs are published here as places free. */
  readonly concurrency?: ConcurrencyGate | undefined;
  /** A waiting run published (the tracker follows it, metrics count it) or missed. */
  readonly events?: Pick<SchedulerEvents, 'published' | 'missed'> | undefined;
}

export class ControlLoop {
  private readonly loop: PokedLoop;
  private lastError: string | undefined;
  /**
   * Entries whose backfill waits for their run in flight (backfill-paced.ts), as the look in
   * progress or the last one found: the end of one of their runs starts a look at once, so that
   * the next slot goes out then, not at the next interval. Emptied as each look begins: a run that
   * finishes before the look asks about it is seen finished by that look.
   */
  private readonly waiting = new Set<string>();
  private stopHearingFinished: (() => void) | undefined;
  /** The paused entries as last read: their waiting runs wait on. */
  private paused: ReadonlySet<string> = new Set();

  /** An entry by name: the config's, else the runtime one (the catalog). */
  private readonly entryNamed = (name: string): ResolvedEntry | undefined =>
    configEntryNamed(this.options.config, name) ?? this.options.findRuntimeEntry?.(name);
  /** An entry as its run would publish it: after the check beforePublish makes, if any. */
  private readonly checked = (entry: ResolvedEntry): ReturnType<typeof checkedEntry> =>
    checkedEntry(this.options.beforePublish, entry, (name) => this.options.findRuntimeEntry?.(name));

  constructor(private readonly options: ControlLoopOptions) {
    this.loop = new PokedLoop({ intervalMs: options.intervalMs, run: () => this.check(), runAtStart: true });
  }

  start(): void {
    const { concurrency } = this.options;
    this.stopHearingFinished = this.options.running?.onFinished((entry) => {
      // A run of a group ended: a place may be free for the group's first waiting run.
      if (this.waiting.has(entry) || (concurrency?.hasWaiting() === true && concurrency.options.groupOf(entry) !== undefined))
        this.loop.poke();
    });
    this.loop.start();
  }

  /** Checks now (a CLI announced a change), or as soon as the check in progress ends. */
  poke(): void {
    this.loop.poke();
  }

  async stop(): Promise<void> {
    this.stopHearingFinished?.();
    this.stopHearingFinished = undefined;
    await this.loop.stop();
  }

  private async check(): Promise<void> {
    const { source, logger } = this.options;
    this.waiting.clear();
    try {
      const first = this.firstReads(source);
      const paused = await first.paused;
      this.paused = paused;
      this.options.onPaused(paused);
      if (first.stop !== undefined) {
        const stop = await first.stop;
        this.options.onDeploymentStop?.(stop);
        // Stopped: manual runs and backfills wait in their lists (the scripts would refuse them too).
        if (stop !== undefined) {
          this.lastError = undefined;
          return;
        }
      }
      if ((await this.publishTriggers(source, first.triggers)) === 'not leading') return;
      if (hasBackfills(source) && (await workBackfills(this.backfillOptions(source), first.backfills)) === 'fenced') return;
      // Last: a retries key something else wrote fails this read alone, not the backfills before it.
      if ((await this.publishRetries(source, paused, first.retries)) === 'not leading') return;
      if ((await this.releaseWaiting()) === 'not leading') return;
      this.lastError = undefined;
    } catch (error) {
      // Once per outage, not once per retry.
      const message = errorMessage(error);
      if (message !== this.lastError) logger.warn({ event: EVENTS.controlError, err: error }, 'reading control requests failed; retrying');
      this.lastError = message;
    }
  }

  /**
   * A look's first reads, sent together as it begins, so that a look with nothing to do is one
   * round trip to Redis rather than one per read (an idle leader looks every second). Each is
   * awaited where the look needs it, in the order the look has always read them: one that failed
   * fails the look there, as it did when it was read there, and not before (its failure is held,
   * not thrown unhandled, until then). `retries` is the first page of the attempts due at its
   * `nowMs`, read only by a loop that publishes them.
   */
  private firstReads(source: ControlSource) {
    const nowMs = this.options.now();
    return {
      paused: held(source.paused()),
      stop: source.deploymentStop === undefined ? undefined : held(source.deploymentStop()),
      triggers: held(source.pendingTriggers(TRIGGERS_PER_WAKE)),
      backfills: hasBackfills(source) ? held(pendingBackfills(source)) : undefined,
      retries:
        source.dueRetries === undefined || this.options.publisher.publishRetry === undefined
          ? undefined
          : { nowMs, due: held(source.dueRetries(nowMs, TRIGGERS_PER_WAKE, 0)) },
    };
  }

  /** The pending manual runs, each published once or discarded; 'not leading' once the lease is gone or fenced. */
  private async publishTriggers(source: ControlSource, pending: ControlLoopReads['triggers']): Promise<'not leading' | undefined> {
    const { logger } = this.options;
    for (const { text, request } of await pending) {
      const token = this.options.lease();
      if (token === undefined) return 'not leading';
      const found = request && this.entryNamed(request.entry);
      const entry = found && (await this.checked(found));
      // A runtime entry written a moment ago may not have reached this replica's catalog yet: its
      // request waits (it is read again at the next look) before it is taken for a mistake.
      if (request && !entry && this.options.now() - request.at < DEFAULTS.triggerUnknownGraceMs) continue;
      if (!request || !entry) {
        logger.warn(
          { event: EVENTS.trigger, request: text.slice(0, 200) },
          'discarding a manual-run request for an entry this config does not have',
        );
        await this.dropTrigger(source, text, request);
        continue;
      }
      const now = this.options.now();
      if (now - request.at > TRIGGER_MAX_AGE_MS) {
        logger.warn(
          { event: EVENTS.trigger, entry: entry.name, id: request.id, requestedAt: new Date(request.at).toISOString() },
          `discarding a manual-run request older than ${TRIGGER_MAX_AGE_MS / 60_000} minutes (its beat trigger gave up long ago)`,
        );
        await this.dropTrigger(source, text, request);
        continue;
      }
      let result: TriggerResult;
      try {
        result = await this.publishTrigger(entry, request, text, token, now);
      } catch (error) {
        // A refusal by its entry (a queue key of another type) throws, the request removed by the
        // script: a replay's item goes back (the store checks the script's confirmation says refused).
        if (request.replays !== undefined && source.restoreDeadLetter !== undefined && (await source.restoreDeadLetter(request, text)))
          this.restored(request, true);
        throw error;
      }
      // Stopped (the script's check): the request stays pending, as the others do.
      if (result === TriggerResult.Fenced || result === TriggerResult.Stopped) return 'not leading';
      // Refused (the script removed the request): a replay's item goes back on the list.
      if (result === TriggerResult.Refused && request.replays !== undefined && source.restoreDeadLetter !== undefined)
        this.restored(request, await source.restoreDeadLetter(request, text));
    }
    return undefined;
  }

  /** A request removed unpublished; a replay's dead letter back on the list in the same step (ControlStore.discardTrigger). */
  private async dropTrigger(source: ControlSource, text: string, request: TriggerRequest | undefined): Promise<void> {
    const restored = await source.discardTrigger(text, request);
    if (request?.replays !== undefined) this.restored(request, restored === true);
  }

  private restored(request: TriggerRequest, back: boolean): void {
    this.options.logger.warn(
      { event: EVENTS.trigger, entry: request.entry, id: request.id, replays: request.replays },
      back
        ? `dead letter ${request.replays ?? ''} is back on the list: its replay was not published`
        : `dead letter ${request.replays ?? ''} was not put back (its request carried no item, another leader took it, or the item is on the list already)`,
    );
  }

  /**
   * The slots' attempts that are due (issue 70), each published once through retry-fenced.lua with
   * the slot's message, the attempt's task id and headers (celery/attempt-message.ts). An attempt of
   * an entry this config no longer has is discarded; the script drops one whose entry was deleted or
   * re-created since its slot's run. One of a `paused` entry stays pending, read past, until a look
   * after its resume publishes it.
   */
  private async publishRetries(
    source: ControlSource,
    paused: ReadonlySet<string>,
    firstPage: ControlLoopReads['retries'],
  ): Promise<'not leading' | undefined> {
    if (source.dueRetries === undefined || firstPage === undefined || this.options.publisher.publishRetry === undefined) return undefined;
    const now = firstPage.nowMs;
    // At most TRIGGERS_PER_WAKE published a look, past up to HELD_PAGES_PER_WAKE pages of held ones.
    for (let skip = 0, page = 0, done = 0; page < HELD_PAGES_PER_WAKE && done < TRIGGERS_PER_WAKE; page++) {
      const due = await (page === 0 ? firstPage.due : source.dueRetries(now, TRIGGERS_PER_WAKE, skip));
      let held = 0;
      for (const item of due) {
        const done = await this.publishRetry(source, paused, item);
        if (done === 'not leading') return 'not leading';
        if (done === 'held') held += 1;
      }
      if (due.length < TRIGGERS_PER_WAKE) break;
      // The others left the zset as they went (published, dropped or discarded): the next page starts past the held ones.
      done += due.length - held;
      skip += held;
    }
    return undefined;
  }

  private async publishRetry(
    source: ControlSource,
    paused: ReadonlySet<string>,
    { member, retry }: { member: string; retry: PendingAttempt | undefined },
  ): Promise<'not leading' | 'held' | undefined> {
    const { logger, publisher } = this.options;
    if (publisher.publishRetry === undefined) return undefined;
    const token = this.options.lease();
    if (token === undefined) return 'not leading';
    if (retry === undefined) {
      logger.warn(
        { event: EVENTS.retry, member: member.slice(0, 200) },
        'discarding a pending attempt that does not decode (something else wrote it)',
      );
      await source.discardRetry?.(member);
      return undefined;
    }
    if (paused.has(retry.entry)) return 'held';
    const found = this.entryNamed(retry.entry);
    const entry = found && (await this.checked(found));
    if (!entry) {
      logger.warn(
        { event: EVENTS.retry, entry: retry.entry, id: retry.taskId, attempt: retry.attempt },
        'discarding an attempt of an entry this config no longer has',
      );
      await source.discardRetry?.(member);
      return undefined;
    }
    // An attempt is a run of its entry's concurrency group: it stays pending while the group is full,
    // and while the runner admits a wake-up's runs (its census would not see this one).
    const group = entry.concurrency;
    const gate = this.options.concurrency;
    if (group !== undefined && gate !== undefined && (gate.isAdmitting || (gate.census().get(group.group) ?? 0) >= group.limit))
      return 'held';
    const now = this.options.now();
    const message = attemptMessage(
      renderTaskMessage(compileMessageTemplate(entry, this.options.config, this.options.messageEnv), {
        taskId: retry.taskId,
        slotMs: retry.slotMs,
        nowMs: now,
      }),
      retry.attempt,
      retry.retryOf,
    );
    if (group !== undefined) gate?.reserve(group.group);
    let result: RetryPublishResult;
    try {
      const record = {
        taskId: retry.taskId,
        slotMs: retry.slotMs,
        publishedAtMs: now,
        state: 'PENDING',
        attempt: retry.attempt,
        retryOf: retry.retryOf,
      } as const;
      result = await publisher.publishRetry(message, member, retry.revision, token, 'retries', record);
      // Told before the reservation goes back: the tracker counts it from here.
      if (result === RetryPublishResult.Published)
        this.options.retryPublished?.(message, retry.slotMs, retry.attempt, retry.retryOf, retry.revision, messageOutcomeParts(message));
    } finally {
      if (group !== undefined) gate?.unreserve(group.group);
    }
    if (result === RetryPublishResult.Fenced || result === RetryPublishResult.Stopped) return 'not leading';
    const fields = { event: EVENTS.retry, entry: entry.name, id: retry.taskId, attempt: retry.attempt, retryOf: retry.retryOf };
    if (result === RetryPublishResult.Published) {
      logger.info({ ...fields, task: entry.task, slot: new Date(retry.slotMs).toISOString() }, `attempt ${retry.attempt} published`);
    } else if (result === RetryPublishResult.Dropped) {
      logger.info(fields, 'attempt dropped: its entry was deleted or created again since its slot ran');
    }
    return undefined;
  }

  /** The runs waiting for their concurrency groups that have a place now (concurrency-gate.ts). */
  private releaseWaiting(): Promise<'not leading' | undefined> {
    const { concurrency: gate, config, messageEnv, publisher, logger, now, lease, events } = this.options;
    if (gate === undefined) return Promise.resolve(undefined);
    return releaseWaiting({
      gate,
      config,
      messageEnv,
      publisher,
      logger,
      now,
      lease,
      events,
      paused: () => this.paused,
      entryNamed: this.entryNamed,
      checked: this.checked,
    });
  }

  /** One manual run, published through the fenced trigger script and logged. */
  private async publishTrigger(
    entry: ResolvedEntry,
    request: TriggerRequest,
    text: string,
    token: string,
    now: number,
  ): Promise<TriggerResult> {
    const message = renderTaskMessage(compileMessageTemplate(entry, this.options.config, this.options.messageEnv), {
      taskId: request.id,
      // A dead letter's replay is its slot's message again, as a retry attempt renders it.
      slotMs: request.slot ?? now,
      nowMs: now,
    });
    // Superseded: the entry changed since the catalog read it; the request waits for the new one.
    const result = await this.options.publisher.publishTrigger(message, text, token, now, entry.revision, request.slot);
    if (result === TriggerResult.Published) {
      this.options.logger.info(
        {
          event: EVENTS.trigger,
          entry: entry.name,
          task: entry.task,
          id: request.id,
          queue: message.destination.declareQueue ?? message.destination.routingKey,
          ...(request.note === undefined ? {} : { note: request.note }),
          ...(request.replays === undefined ? {} : { replays: request.replays }),
        },
        request.replays === undefined ? 'manual run published' : `dead letter ${request.replays} replayed`,
      );
    }
    return result;
  }

  /** What the pending backfills are worked with (backfill-work.ts): this loop's options, and where an entry waits for its run. */
  private backfillOptions(source: ControlSource & BackfillSource): BackfillWorkOptions {
    const { config, publisher, messageEnv, logger, now, lease, running, revoker, revoked, beforePublish } = this.options;
    const waitsFor = (entry: string): void => void this.waiting.add(entry);
    return {
      config,
      source,
      publisher,
      messageEnv,
      logger,
      now,
      lease,
      findEntry: this.entryNamed,
      running,
      revoker,
      revoked,
      waitsFor,
      beforePublish,
    };
  }
}

type ControlLoopReads = ReturnType<ControlLoop['firstReads']>;

/** `read`, its failure left for whoever awaits it (a look that ended before it never does). */
function held<T>(read: Promise<T>): Promise<T> {
  read.catch(() => undefined);
  return read;
}

function hasBackfills(source: ControlSource): source is ControlSource & BackfillSource {
  return (
    source.pendingBackfills !== undefined &&
    source.backfillThrough !== undefined &&
    source.backfillProgress !== undefined &&
    source.refuseBackfill !== undefined
  );
}
