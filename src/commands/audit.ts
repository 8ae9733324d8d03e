/**
 * `beat audit [NAME]`: the audit trail of changes to entries (who, when, what changed, why), newest
 * first, from the deployment's Redis stream (redis/audit-log.ts).
 */
import { auditTrail } from '../operations/read-verbs.js';
import { DEFAULTS } from '../base/defaults.js';
import { BeatError, ErrorCode } from '../base/errors.js';
import { terminalField } from '../base/terminal-text.js';
import { changeText } from '../control/audit-events.js';
import { parseCount } from './args.js';
import { redisOptions, withControl } from './control-open.js';
import { ExitCode, terminalColumns } from './io.js';
import { wrapLines } from './table.js';
import type { Io } from './io.js';
import { leaf } from './command-spec.js';

export const auditSpec = leaf({
  name: 'audit',
  positionals: { usage: '[NAME]', most: 1 },
  about: `Shows the audit trail of the deployment's entries, newest first (of NAME alone when given, a
deleted entry's too): when, who (an API token's name, dashboard:<token name>, user@host for the
command line and the TypeScript client), the action (create, update, delete, pause, resume,
trigger, backfill, apply; pause-all and resume-all for the deployment-wide stop), the entry, each field that changed (+ added, - removed, before → after; long values
shortened), the note given with it (--note, X-Beat-Note) and, for a change made through the API,
the grant that allowed it (grant: editor@team=billing); the command line writes with the
machine's Redis credentials and holds every role, so its changes show none. The trail keeps the last
audit.maxEvents changes (default ${DEFAULTS.auditMaxEvents.toLocaleString('en-US')}).
`,
  options: {
    ...redisOptions,
    limit: {
      type: 'string',
      short: 'n',
      value: 'N',
      help: `at most N events, 1 to ${DEFAULTS.auditPageMax} (default ${DEFAULTS.auditPageDefault})`,
    },
    who: { type: 'string', value: 'WHO', help: "only the changes WHO made (a token's name, dashboard:<name>, user@host)" },
    json: { type: 'boolean', help: "print the events as a JSON array (as GET /api/audit's events)" },
  },
  run: (args, io) => auditCommand(args.values, args.positionals, io),
});

async function auditCommand(
  values: { config?: string; broker?: string; json?: boolean; limit?: string; who?: string },
  positionals: readonly string[],
  io: Io,
): Promise<ExitCode> {
  const limit =
    values.limit === undefined ? DEFAULTS.auditPageDefault : parseCount('audit', '--limit', values.limit, 1, DEFAULTS.auditPageMax);
  const entry = positionals[0];
  const who = values.who;
  if (who?.trim() === '') throw new BeatError(ErrorCode.Usage, "beat audit: --who: give a caller's name, such as ci or alice@build-7");
  return withControl(io, 'audit', values, async (control) => {
    const events = await auditTrail(control.auditLog, { ...(entry === undefined ? {} : { entry }), who, limit });
    if (values.json) {
      io.out(JSON.stringify(events));
      return ExitCode.Ok;
    }
    if (events.length === 0) {
      const by = who === undefined ? '' : ` by ${terminalField(who)}`;
      io.out(entry === undefined ? `no changes recorded${by}` : `${terminalField(entry)}: no changes recorded${by}`);
      return ExitCode.Ok;
    }
    const lines: string[] = [];
    for (const event of events) {
      const task = event.taskId === undefined ? '' : ` (task id ${terminalField(event.taskId)})`;
      const what =
        event.selector === undefined
          ? event.entry === ''
            ? '(the whole deployment)'
            : terminalField(event.entry)
          : `-l ${terminalField(event.selector)}: ${event.entries?.length ?? 0} entries: ${terminalField((event.entries ?? []).join(', '))}`;
      lines.push(`${event.at}  ${terminalField(event.who)}  ${event.action} ${what}${task}`);
      for (const change of event.changes) lines.push(`    ${terminalField(changeText(change))}`);
      if (event.note !== undefined) lines.push(`    note: ${terminalField(event.note)}`);
      if (event.grant !== undefined) lines.push(`    grant: ${terminalField(event.grant)}`);
    }
    // Each line fits the terminal, a long change or note wrapped under itself; whole in --json.
    io.out(wrapLines(lines.join('\n'), terminalColumns(io)));
    return ExitCode.Ok;
  });
}
