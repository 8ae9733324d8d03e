/**
 * One item of the dead-letter list (issue 70) as every reader outside the process sees it: `beat
 * dead-letter list --json`, GET /api/dead-letters and the TypeScript client. Declared once, as a zod
 * schema (the OpenAPI document describes the API's answer from here), the type its `z.infer`;
 * `deadLetterView` is the one place that fills it from the stored item (ports/outcomes.ts DeadLetter).
 */
import * as z from 'zod';
import type { DeadLetter } from '../ports/outcomes.js';

export const deadLetterViewSchema = z
  .object({
    id: z.string().describe('its id: the same for the same (entry, slot); what `beat dead-letter replay|discard ID` takes'),
    entry: z.string(),
    slot: z.string().describe("the slot that failed for good, ISO 8601 in UTC (a replay's message is rendered for it)"),
    taskId: z.string().describe("the task id of the slot's last attempt"),
    retryOf: z.string().describe("the slot's own task id (its first attempt)"),
    attempts: z.number().int().describe('attempts run, the first included'),
    end: z.enum(['failure', 'lost']).describe('how the last attempt ended: a FAILURE, or no outcome within outcomeTimeout'),
    exception: z.string().optional().describe("the last attempt's exception (its first line), when its outcome gave one"),
    at: z.string().describe('when the slot failed for good, ISO 8601 in UTC'),
  })
  .readonly();

export type DeadLetterView = z.infer<typeof deadLetterViewSchema>;

export function deadLetterView(d: DeadLetter): DeadLetterView {
  return {
    id: d.id,
    entry: d.entry,
    slot: new Date(d.slotMs).toISOString(),
    taskId: d.taskId,
    retryOf: d.retryOf,
    attempts: d.attempts,
    end: d.end,
    ...(d.exception === undefined ? {} : { exception: d.exception }),
    at: new Date(d.atMs).toISOString(),
  };
}
