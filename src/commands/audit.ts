/**
 * `beat audit [NAME]`: the audit trail of changes to entries (who, when, what changed, why), newest
 * first, from the deployment's Redis stream (redis/audit-log.ts).
 */
import { DEFAULTS } from '../base/defaults.js';
import { terminalField } from '../base/terminal-text.js';
import { changeText } from '../control/audit.js';
import { apiAuditEvent } from '../service/audit-api.js';
import { parseCommandArgs, parseCount } from './args.js';
import { CONFIG_HELP } from './config-args.js';
import { REDIS_HELP, redisOptions, withControl } from './control-open.js';
import { ExitCode } from './io.js';
import type { Io } from './io.js';

export const AUDIT_HELP = `Usage: beat audit [NAME] [--config PATH] [--broker URL] [--limit N] [--json]

Shows the audit trail of the deployment's entries, newest first (of NAME alone when given, a
deleted entry's too): when, who (an API token's name, dashboard:<token name>, user@host for the
command line and the TypeScript client), the action (create, update, delete, pause, resume,
trigger), the entry, each field that changed (+ added, - removed, before → after; long values
shortened) and the note given with it (--note, X-Beat-Note). The trail keeps the last
audit.maxEvents changes (default ${DEFAULTS.auditMaxEvents.toLocaleString('en-US')}).

Options:
${CONFIG_HELP}
${REDIS_HELP}
  -n, --limit N       at most N events, 1 to ${DEFAULTS.auditPageMax} (default ${DEFAULTS.auditPageDefault})
      --json          print the events as a JSON array (as GET /api/audit's events)
  -h, --help          show this help
`;

export async function auditCommand(argv: string[], io: Io): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs(
    'audit',
    argv,
    { ...redisOptions, json: { type: 'boolean' }, limit: { type: 'string', short: 'n' } },
    1,
  );
  if (values.help) {
    io.out(AUDIT_HELP);
    return ExitCode.Ok;
  }
  const limit =
    values.limit === undefined ? DEFAULTS.auditPageDefault : parseCount('audit', '--limit', values.limit, 1, DEFAULTS.auditPageMax);
  const entry = positionals[0];
  return withControl(io, 'audit', values, async (control) => {
    const events = (await control.auditLog.read({ entry, limit })).map(apiAuditEvent);
    if (values.json) {
      io.out(JSON.stringify(events));
      return ExitCode.Ok;
    }
    if (events.length === 0) {
      io.out(entry === undefined ? 'no changes recorded' : `${terminalField(entry)}: no changes recorded`);
      return ExitCode.Ok;
    }
    const lines: string[] = [];
    for (const event of events) {
      const task = event.taskId === undefined ? '' : ` (task id ${terminalField(event.taskId)})`;
      lines.push(`${event.at}  ${terminalField(event.who)}  ${event.action} ${terminalField(event.entry)}${task}`);
      for (const change of event.changes) lines.push(`    ${terminalField(changeText(change))}`);
      if (event.note !== undefined) lines.push(`    note: ${terminalField(event.note)}`);
    }
    io.out(lines.join('\n'));
    return ExitCode.Ok;
  });
}
