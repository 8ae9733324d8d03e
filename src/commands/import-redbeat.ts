/** `beat import redbeat`: RedBeat's entries in Redis, snapshotted as a config file. */
import { BeatError, ErrorCode, problemsInline, shown } from '../base/errors.js';
import { silentLogger } from '../base/log.js';
import { maskUrl } from '../config/redis-url.js';
import { renderImportedConfig } from '../importers/render.js';
import { REDBEAT_DEFAULT_PREFIX, redbeatKeys } from '../redbeat/keys.js';
import { snapshotRedBeat } from '../redbeat/snapshot.js';
import { connectWithRetry, createRedisClient } from '../redis/connect.js';
import { isValidZone } from '../time/zone.js';
import { leaf } from './command-spec.js';
import { writeImported } from './import-output.js';
import type { ExitCode } from './io.js';
import type { Io } from './io.js';

export const importRedbeatSpec = leaf({
  name: 'import redbeat',
  summary: 'the entries RedBeat keeps in Redis',
  listed: [{ label: 'redbeat --url REDIS_URL', summary: 'the entries RedBeat keeps in Redis' }],
  helpColumn: 24,
  about: `Reads the entries RedBeat keeps in Redis (what RedBeatSchedulerEntry.save() wrote: the members of
<prefix>:schedule and their hashes) and writes them as tsbeat entries: interval (with relative),
crontab, rrule; args, kwargs, options; disabled ones with enabled: false. Whatever tsbeat cannot
express (a custom schedule class, dateutil's byeaster, a dtstart offset that is not whole hours,
an option tsbeat does not send) is listed on stderr and left out. Nothing is written to Redis.
To run RedBeat's entries where they are instead, see sources.redbeat in docs/sources.md.
`,
  options: {
    url: {
      type: 'string',
      value: 'REDIS_URL',
      required: true,
      help: "RedBeat's Redis (its redbeat_redis_url), e.g. redis://127.0.0.1:6379/0 (required)",
    },
    'key-prefix': { type: 'string', value: 'P', help: `RedBeat's redbeat_key_prefix (default "${REDBEAT_DEFAULT_PREFIX}")` },
    timezone: { type: 'string', value: 'ZONE', help: "Celery's timezone, in which RedBeat read the crontabs (default UTC)" },
    out: { type: 'string', short: 'o', value: 'FILE', help: 'write the config there (default: stdout)' },
  },
  run: (args, io) => redbeatImportCommand(args.values, args.positionals, io),
});

const CONNECT_TIMEOUT_MS = 5000;

async function redbeatImportCommand(
  values: { url?: string; 'key-prefix'?: string; timezone?: string; out?: string },
  _positionals: readonly string[],
  io: Io,
): Promise<ExitCode> {
  const usage = (problem: string) => new BeatError(ErrorCode.Usage, `beat import redbeat: ${problem}. See 'beat import redbeat --help'.`);
  const url = values.url;
  if (url === undefined || url === '') throw usage("--url must name RedBeat's Redis, e.g. --url redis://127.0.0.1:6379/0");
  if (values.timezone !== undefined && !isValidZone(values.timezone))
    throw usage(
      `--timezone ${shown(values.timezone)} is not a time zone; use Celery's timezone setting, an IANA name such as "Europe/Berlin"`,
    );
  const prefix = values['key-prefix'] ?? REDBEAT_DEFAULT_PREFIX;
  const keys = redbeatKeys(prefix);
  const client = createRedisClient(url, {}, 'redbeat', silentLogger);
  let entries;
  try {
    try {
      await connectWithRetry(client, AbortSignal.timeout(CONNECT_TIMEOUT_MS));
    } catch (error) {
      if (error instanceof BeatError) throw error;
      throw new BeatError(
        ErrorCode.RedisUnavailable,
        `beat import redbeat: cannot reach Redis at ${maskUrl(url)} within ${CONNECT_TIMEOUT_MS / 1000} s; check --url`,
        {
          cause: error,
        },
      );
    }
    entries = await snapshotRedBeat(client, keys);
  } finally {
    client.disconnect();
  }
  const beatSchedule: Record<string, unknown> = {};
  const notes: string[] = [];
  for (const e of entries) {
    if (e.entry !== undefined) beatSchedule[e.name] = e.entry;
    else notes.push(`${keys.entry(e.name)}: not imported: ${problemsInline(e.problems)}`);
  }
  const timezone = values.timezone ?? 'UTC';
  const config = { timezone, beatSchedule };
  const header = [
    `Imported by \`beat import redbeat\` from ${maskUrl(url)} (key prefix ${JSON.stringify(prefix)}).`,
    `Crontabs are read in timezone ${timezone}: it must be Celery's timezone setting, in which RedBeat read them.`,
  ];
  const rendered = renderImportedConfig(config, header, values.out ?? '<stdout>');
  return writeImported(io, values.out, rendered, Object.keys(beatSchedule).length, notes);
}
