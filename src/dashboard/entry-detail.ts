/**
 * An entry's page (its definition, next fires with DST changes marked, the message of its next run)
 * and the timeline of the coming hour or day (fires counted per minute), from the rows and entries
 * of a snapshot.
 */
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import { compileMessageTemplate, renderTaskMessage } from '../celery/message.js';
import type { MessageEnv } from '../celery/message.js';
import { slotTaskId } from '../celery/task-id.js';
import { errorMessage } from '../base/errors.js';
import { nextFires } from '../core/schedule.js';
import { formatInstant, offsetMinutes } from '../time/zone.js';
import { entriesLoad } from '../control/entries-load.js';
import type { LoadInput } from '../control/entries-load.js';
import type { DetailWire, FireWire, RowWire, TimelineWire } from './wire.js';

function offsetText(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `UTC${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** The entry's next `count` fires from its next one (the row's), each marked where the zone's offset changed. */
export function comingFires(entry: ResolvedEntry, firstMs: number, count: number): FireWire[] {
  const zone = entry.timezone;
  const instants = [firstMs, ...nextFires(entry.schedule, { zone, afterMs: firstMs, anchorMs: firstMs }, count - 1)];
  let before = offsetMinutes(zone, firstMs);
  return instants.map((ms, i) => {
    const offset = offsetMinutes(zone, ms);
    const change = i > 0 && offset !== before ? `${offsetText(before)} → ${offsetText(offset)}` : null;
    before = offset;
    return { at: formatInstant(ms, zone), atMs: ms, offsetChange: change };
  });
}

/** The message of a run at `slotMs`, in the form `beat run --dry-run` prints, or why it cannot be rendered. */
export function messagePreview(entry: ResolvedEntry, config: ResolvedConfig, env: MessageEnv, slotMs: number, nowMs: number): unknown {
  try {
    const template = compileMessageTemplate(entry, config, env);
    const message = renderTaskMessage(template, { taskId: slotTaskId(config.name, entry.name, slotMs), slotMs, nowMs });
    return {
      entry: entry.name,
      task: message.task,
      id: message.id,
      scheduledAt: new Date(slotMs).toISOString(),
      destination: message.destination,
      headers: JSON.parse(message.headersJson) as unknown,
      properties: message.properties,
      body: JSON.parse(message.body) as unknown,
    };
  } catch (error) {
    return { error: errorMessage(error) };
  }
}

export const STORE_SOURCE = 'the runtime store (beat entries, PUT /api/entries)';

/** A config-file entry as written, with the file and its place in it. */
export function writtenInFile(config: ResolvedConfig, name: string): DetailWire['written'] {
  const written = config.written;
  const definition = written?.beatSchedule[name];
  return written === undefined || definition === undefined ? null : { source: `${written.source}, beatSchedule.${name}`, definition };
}

/** The definition as resolved, in plain JSON (the schedule's own shape, its zone, args, options…). */
export function definitionOf(entry: ResolvedEntry): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify({
      name: entry.name,
      origin: entry.origin ?? 'file',
      task: entry.task,
      schedule: entry.schedule,
      timezone: entry.timezone,
      args: entry.args,
      kwargs: entry.kwargs,
      options: entry.options,
      enabled: entry.enabled,
      catchUp: entry.catchUp,
      catchUpWindowMs: entry.catchUpWindowMs ?? null,
      jitterMs: entry.jitterMs,
    }),
  ) as Record<string, unknown>;
}

const MINUTE_MS = 60_000;

/**
 * The timeline of the coming `spanMs` from the minute of `nowMs` (a whole number of minutes): the
 * runs of the active entries per minute, from each one's next run as its runner holds it, and the
 * busiest second; counted as `beat check` counts the load (control/entries-load.ts: within a budget
 * of fires, in slices of the event loop), an entry that fires too often for the budget `capped`.
 */
export async function timeline(
  rows: Iterable<Pick<RowWire, 'name' | 'state' | 'nextMs'>>,
  entries: ReadonlyMap<string, ResolvedEntry>,
  nowMs: number,
  spanMs: number,
): Promise<TimelineWire> {
  const startMs = Math.floor(nowMs / MINUTE_MS) * MINUTE_MS;
  function* active(): Generator<LoadInput> {
    for (const row of rows) {
      if (row.state !== 'active' || row.nextMs === null) continue;
      const entry = entries.get(row.name);
      if (entry !== undefined) yield { entry, nextMs: row.nextMs };
    }
  }
  const load = await entriesLoad(active(), nowMs, startMs + spanMs - nowMs);
  return { startMs: load.startMs, bucketMs: MINUTE_MS, counts: load.perMinute, capped: load.capped, peakSecond: load.peakSecond };
}
