/**
 * The publishers of a deployment with chord runs in mind (an entry whose run is a `chord`,
 * docs/canvas.md): before a batch, a manual run or a backfill step that holds one is published,
 * the chords' sizes are written to the Redis result backend, as Celery's own `chord.apply_async`
 * writes them before the header's last task is sent. Written first, they are there before any
 * header task can return; written again for a replay, they are the same value. A run whose size
 * cannot be written is not published (the batch fails and is retried like any failed publish);
 * without a Redis result backend a chord run is refused alone, since its body would never fire.
 */
import { BeatError, ErrorCode, errorMessage } from '../base/errors.js';
import type { ChordSize, TaskMessage } from '../celery/message.js';
import type { TriggerPublisher } from '../ports/control-source.js';
import type { ChordSizeWriter, DispatchResult, Dispatcher, DueRun, PublishResult } from '../ports/dispatcher.js';

const NO_BACKEND =
  'a chord run needs a Redis result backend (resultBackend: "redis://…"), where its size is written for the workers to fire its body: set resultBackend, or run the chord as a step of a chain';

/** The chord sizes among messages (most batches have none). */
function sizesOf(messages: Iterable<TaskMessage>): ChordSize[] {
  const sizes: ChordSize[] = [];
  for (const m of messages) if (m.chordSize !== undefined) sizes.push(m.chordSize);
  return sizes;
}

/** Whether a batch holds a chord run, without a copy of it (asked of every batch of a burst). */
function hasChordRun(runs: readonly DueRun[]): boolean {
  for (const run of runs) if (run.message.chordSize !== undefined) return true;
  return false;
}

/** A batch holding chord runs: their sizes written first; without a writer, they are refused alone and the others go. */
async function dispatchWithChords(
  inner: Dispatcher,
  writer: ChordSizeWriter | undefined,
  runs: readonly DueRun[],
  token: string,
  nowMs: number,
): Promise<DispatchResult> {
  if (writer !== undefined) {
    await written(writer, sizesOf(runs.map((r) => r.message)));
    return inner.dispatch(runs, token, nowMs);
  }
  const others = runs.filter((r) => r.message.chordSize === undefined);
  const result: DispatchResult = others.length === 0 ? { fenced: false, outcomes: [] } : await inner.dispatch(others, token, nowMs);
  if (result.fenced || 'ahead' in result || 'stopped' in result) return result;
  const outcomes: PublishResult[] = [];
  const refusals = new Map<number, string>();
  let k = 0;
  runs.forEach((run, i) => {
    if (run.message.chordSize !== undefined) {
      outcomes.push('refused');
      refusals.set(i, NO_BACKEND);
      return;
    }
    const j = k++;
    outcomes.push(result.outcomes[j] ?? 'unsent');
    const why = result.refusals?.get(j);
    if (why !== undefined) refusals.set(i, why);
  });
  return { ...result, outcomes, refusals };
}

async function written(writer: ChordSizeWriter, sizes: readonly ChordSize[]): Promise<void> {
  try {
    await writer.write(sizes);
  } catch (error) {
    throw new BeatError(
      ErrorCode.BrokerPublish,
      `writing the size of ${sizes.length} chord runs to the result backend failed: ${errorMessage(error)}`,
      {
        cause: error,
      },
    );
  }
}

/** `inner`, writing its chord runs' sizes through `writer` first (none: chord runs refused alone). */
export function chordDispatcher(inner: Dispatcher, writer: ChordSizeWriter | undefined): Dispatcher {
  // Not an async function for a batch with no chord run (nearly all): its parameters, every message
  // of the batch, would be kept until the reply.
  const dispatch = (runs: readonly DueRun[], token: string, nowMs: number): Promise<DispatchResult> =>
    hasChordRun(runs) ? dispatchWithChords(inner, writer, runs, token, nowMs) : inner.dispatch(runs, token, nowMs);
  return {
    ...(inner.dryRun === undefined ? {} : { dryRun: inner.dryRun }),
    dispatch,
    // The dispatch window knows whether a batch holds a chord run as it takes it: one without goes here.
    plain: inner,
  };
}

/** `inner`, writing the sizes of the chord runs it publishes (manual runs, backfill steps) through `writer` first. */
export function chordTriggers(inner: TriggerPublisher, writer: ChordSizeWriter | undefined): TriggerPublisher {
  const before = async (messages: Iterable<TaskMessage>, what: string): Promise<void> => {
    const sizes = sizesOf(messages);
    if (sizes.length === 0) return;
    if (writer === undefined) throw new BeatError(ErrorCode.BrokerPublish, `${what} refused: ${NO_BACKEND}`);
    await written(writer, sizes);
  };
  const backfill = inner.publishBackfill?.bind(inner);
  const claim = inner.claimBackfill?.bind(inner);
  const retry = inner.publishRetry?.bind(inner);
  return {
    ...(retry === undefined
      ? {}
      : {
          publishRetry: async (message, member, revision, token, from, record) => {
            await before([message], `attempt of "${message.entry}"`);
            return retry(message, member, revision, token, from, record);
          },
        }),
    publishTrigger: async (message, requestText, token, nowMs, revision, slotMs) => {
      await before([message], `manual run of "${message.entry}"`);
      return inner.publishTrigger(message, requestText, token, nowMs, revision, slotMs);
    },
    ...(backfill === undefined
      ? {}
      : {
          publishBackfill: async (call) => {
            await before(
              call.step.runs.filter((r) => r.overlap !== true).map((r) => r.message),
              `backfill of "${call.entry}"`,
            );
            return backfill(call);
          },
        }),
    ...(claim === undefined ? {} : { claimBackfill: claim }),
  };
}
