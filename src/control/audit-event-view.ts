/**
 * One event of the audit trail as every reader outside the process sees it: GET /api/audit's
 * `events`, `beat audit --json`, the TypeScript client's `audit()` and the dashboard's audit tab (src/ui/audit-view.ts, through
 * dashboard/wire.ts). Declared once, as a zod schema (the HTTP API's OpenAPI document describes
 * GET /api/audit's answer from here), the type its `z.infer`; operations/read-verbs.ts
 * `auditEventView` is the one place that fills it from the stored event (control/audit-events.ts).
 *
 * It imports zod alone: the dashboard's page (src/ui/) takes its type through dashboard/wire.ts.
 */
import * as z from 'zod';

/** `pause-all` and `resume-all`: the deployment-wide stop set and lifted (`beat pause --all`), with `entry` ''. */
export const AUDIT_ACTIONS = [
  'create',
  'update',
  'delete',
  'pause',
  'resume',
  'trigger',
  'backfill',
  'apply',
  'pause-all',
  'resume-all',
  'dead-letter-replay',
  'dead-letter-discard',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export const auditEventViewSchema = z
  .object({
    id: z.string().describe("the stream entry's id (`<ms>-<seq>`): pass it as `before` to read older events"),
    at: z.string().describe('when, ISO 8601 in UTC'),
    who: z
      .string()
      .describe("a token's name, `dashboard:<token name>`, `sso:<subject> <e-mail>`, or `user@host` for the CLI and the client"),
    grant: z.string().optional().describe('the grant that allowed it (`editor@team=billing`); absent for the CLI, which holds every role'),
    entry: z.string().describe("the entry changed; '' for a bulk action (see `selector`) and the deployment-wide stop"),
    action: z.enum(AUDIT_ACTIONS),
    changes: z
      .array(
        z
          .object({
            path: z.string().describe('the field, such as `options.queue`'),
            before: z.string().optional().describe('absent: the field was added'),
            after: z.string().optional().describe('absent: the field was removed'),
          })
          .readonly(),
      )
      .readonly()
      .describe("the entry definition's fields that changed, values shortened"),
    note: z.string().optional().describe('why, as given with the change (--note, X-Beat-Note)'),
    taskId: z
      .string()
      .optional()
      .describe(
        "a manual run's task id (trigger, dead-letter-replay), a backfill request's id, or a dead letter's id (dead-letter-discard)",
      ),
    selector: z.string().optional().describe("a bulk action's label selector; `entries` names every entry it touched"),
    entries: z.array(z.string()).readonly().optional(),
  })
  .readonly();

export type AuditEventView = z.infer<typeof auditEventViewSchema>;

/** A page of GET /api/audit: the events, newest first, and `next`, the id to ask for older ones with, when the page is full. */
export const auditPageSchema = z
  .object({
    events: z.array(auditEventViewSchema).readonly(),
    next: z.string().optional().describe('pass it as `before` for the next page; absent on the last'),
  })
  .readonly();

export type AuditPage = z.infer<typeof auditPageSchema>;
