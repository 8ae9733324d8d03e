/**
 * The bounds a runner keeps for the process's sake (runner.ts makes one per session): the message
 * templates it keeps compiled, the batches its bursts have planned or in flight, and the published
 * batches awaiting their recording, so that a burst, however large, does not hold more live than the
 * young generation can (promoted, they cost the collector a large share of the burst).
 */
import { DEFAULTS } from '../base/defaults.js';

/** How many message templates a runner keeps compiled (DEFAULTS.templatesKept). */
export class TemplateRoom {
  private used = 0;

  constructor(readonly max: number = DEFAULTS.templatesKept) {}

  hasRoom(): boolean {
    return this.used < this.max;
  }

  /** A template is kept (+1) or let go (−count). */
  add(count: number): void {
    this.used += count;
  }
}

/**
 * The batches a runner's bursts have planned or in flight: it takes one before it plans a batch and
 * gives it back once the batch's reply came (or it was not sent), first asked, first given. Room for
 * the window's DEFAULTS.dispatchMaxInFlight batches in flight and one being planned.
 */
export class BatchesInFlight {
  private taken = 0;
  private readonly waiting: (() => void)[] = [];
  /** Each burst's published batches not recorded yet (its list, by reference): see backlog. */
  private readonly unrecorded = new Set<{ readonly length: number }>();

  constructor(readonly capacity: number = DEFAULTS.dispatchMaxInFlight + 1) {}

  /** Resolves once a place is this caller's. */
  acquire(): Promise<void> {
    if (this.taken < this.capacity && this.waiting.length === 0) {
      this.taken += 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    // Handed straight to the next in line: the count stays.
    if (next !== undefined) next();
    else this.taken -= 1;
  }

  /** Counts `published` (a burst's batches awaiting their recording) in the backlog until the returned call. */
  track(published: { readonly length: number }): () => void {
    this.unrecorded.add(published);
    return () => this.unrecorded.delete(published);
  }

  /**
   * The published batches not recorded yet of every burst: past DEFAULTS.dispatchRecordBacklog a
   * burst records its own as it goes (kept to its end, they were promoted to the old generation).
   */
  backlog(): number {
    let batches = 0;
    for (const published of this.unrecorded) batches += published.length;
    return batches;
  }
}

/** A runner's bounds: templates kept and batches planned or in flight (runner.ts makes one per session). */
export interface ProcessBudget {
  readonly templates: TemplateRoom;
  readonly batches: BatchesInFlight;
}

export function processBudget(): ProcessBudget {
  return { templates: new TemplateRoom(), batches: new BatchesInFlight() };
}
