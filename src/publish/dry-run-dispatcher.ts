/**
 * `beat run --dry-run`: schedules in real time with in-memory state and prints each message it would
 * publish as one JSON line, instead of touching Redis. For trying a schedule before deploying it.
 */
import type { DispatchResult, Dispatcher, DueRun, PublishResult } from '../ports/dispatcher.js';

export class DryRunDispatcher implements Dispatcher {
  readonly dryRun = true;
  private readonly lastSlot = new Map<string, number>();

  constructor(private readonly write: (line: string) => void) {}

  async dispatch(runs: readonly DueRun[], _token: string, nowMs: number): Promise<DispatchResult> {
    const outcomes: PublishResult[] = runs.map((run) => {
      const last = this.lastSlot.get(run.entry.name);
      if (last !== undefined && last >= run.slotMs) return 'stale';
      this.lastSlot.set(run.entry.name, run.slotMs);
      const { message } = run;
      this.write(
        JSON.stringify({
          entry: run.entry.name,
          task: message.task,
          id: message.id,
          scheduledAt: new Date(run.slotMs).toISOString(),
          publishedAt: new Date(nowMs).toISOString(),
          destination: message.destination,
          headers: JSON.parse(message.headersJson) as unknown,
          properties: message.properties,
          body: JSON.parse(message.body) as unknown,
        }),
      );
      return 'published';
    });
    return { fenced: false, outcomes };
  }
}
