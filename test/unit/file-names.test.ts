/**
 * A file's name says what it is wherever it sits (docs/design.md, Architecture): a name in two
 * folders of src/ must be one of the sibling groups below, files that play the same part for
 * different brokers or systems. The hazard: `routes.ts` meaning Celery's task routes in config/ and
 * the dashboard's HTTP routes in dashboard/ (issue 48 counted 25 such names), so that a reader who
 * knows one guesses wrong about the other.
 */
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', '..', 'src');

/** Each repeated name and the folders allowed to hold it: siblings that play the same part. */
const SIBLINGS: Readonly<Record<string, readonly string[]>> = {
  // Each broker's transport, its probe of who consumes a queue, its remote-control mailbox, its
  // listener of Celery's task events and its message; celery/ holds the broker-neutral message and events.
  'transport.ts': ['amqp', 'sqs'],
  'consumer-probe.ts': ['amqp', 'sqs'],
  'pidbox.ts': ['amqp', 'kombu'],
  'task-events.ts': ['amqp', 'celery', 'kombu'],
  'message.ts': ['amqp', 'celery', 'sqs'],
  // Each system's Redis key names: tsbeat's, kombu's, RedBeat's.
  'keys.ts': ['kombu', 'redbeat', 'redis'],
  // Each external source of entries: RedBeat's keys, django-celery-beat's tables.
  'source.ts': ['django', 'redbeat'],
  'write-back.ts': ['django', 'redbeat'],
  // The Lua scripts each registers on a connection.
  'scripts.ts': ['redbeat', 'redis'],
  // A package's entry: the library's and the cron parser's.
  'index.ts': ['.', 'core/cron'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [relative(SRC, path)] : [];
  });
}

describe('file names', () => {
  it('repeats a name across folders only for the sibling groups named here', () => {
    const folders = new Map<string, string[]>();
    for (const file of sourceFiles(SRC)) {
      const name = file.split('/').at(-1) as string;
      const folder = file.includes('/') ? file.slice(0, file.lastIndexOf('/')) : '.';
      folders.set(name, [...(folders.get(name) ?? []), folder]);
    }
    const repeated = Object.fromEntries([...folders].filter(([, where]) => where.length > 1).map(([name, where]) => [name, where.sort()]));
    expect(repeated).toEqual(SIBLINGS);
  });
});
