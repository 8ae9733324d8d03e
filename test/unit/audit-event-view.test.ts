/**
 * The audit event's view (control/audit-event-view.ts) is the one shape GET /api/audit, `beat audit
 * --json` and the dashboard's audit tab read, and the OpenAPI document describes: what the one filler
 * (operations/read-verbs.ts auditEventView) makes of a stored event is the schema's, every field of it
 * declared (zod drops a field the schema lacks, so the parse would differ).
 */
import { describe, expect, it } from 'vitest';
import { auditEventViewSchema, auditPageSchema } from '../../src/control/audit-event-view.js';
import type { AuditEvent } from '../../src/control/audit-events.js';
import { auditEventView } from '../../src/operations/read-verbs.js';

const AT = Date.UTC(2026, 10, 26, 12, 0, 0, 250);

describe('the audit event view', () => {
  it('holds every field a stored event carries: a change with its grant and note, a trigger, a bulk pause', () => {
    const stored: AuditEvent[] = [
      {
        id: '1764158400250-0',
        atMs: AT,
        who: 'billing-ci',
        grant: 'editor@team=billing',
        entry: 'nightly',
        action: 'update',
        changes: [
          { path: 'options.queue', before: '"q1"', after: '"q2"' },
          { path: 'jitter', before: '5' },
          { path: 'kwargs.id', after: '7' },
        ],
        note: 'move to q2',
      },
      { id: '1764158400250-1', atMs: AT, who: 'alice@build-7', entry: 'nightly', action: 'trigger', changes: [], taskId: 'b1c2' },
      {
        id: '1764158400250-2',
        atMs: AT,
        who: 'dashboard:ops',
        entry: '',
        action: 'pause',
        changes: [],
        selector: 'team=billing',
        entries: ['s1', 's2'],
      },
    ];
    const views = stored.map(auditEventView);
    expect(views[0]).toMatchObject({ id: '1764158400250-0', at: '2026-11-26T12:00:00.250Z', grant: 'editor@team=billing' });
    for (const view of views) expect(auditEventViewSchema.parse(view)).toEqual(view);
    const page = { events: views, next: views[2]!.id };
    expect(auditPageSchema.parse(page)).toEqual(page);
  });

  it('refuses an action the trail never records', () => {
    const view = auditEventView({ id: '1-0', atMs: AT, who: 'ci', entry: 'x', action: 'pause', changes: [] });
    expect(auditEventViewSchema.safeParse({ ...view, action: 'rename' }).success).toBe(false);
  });
});
