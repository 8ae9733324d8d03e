/**
 * The broker registry (src/config/broker-kinds.ts, src/publish/brokers.ts) is the one place that
 * names the broker kinds: elsewhere code asks a kind what it can do. The hazard: a comparison of a
 * kind's name somewhere else is a place a new broker would have to find and edit, the 15-18 files
 * a new broker touched before (issue 48).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BROKER_KINDS, brokerKindOf, stateUrlFor } from '../../src/config/broker-kinds.js';
import { BROKERS } from '../../src/publish/brokers.js';
import { UrlError } from '../../src/config/url-parts.js';

const SRC = join(import.meta.dirname, '..', '..', 'src');

/** The registry itself, and the URL parsers, which compare the schemes they parse (a scheme, not a kind). */
const ALLOWED = new Set([
  'config/broker-kinds.ts',
  'config/url-parts.ts',
  'config/redis-url.ts',
  'config/amqp-url.ts',
  'config/sqs-url.ts',
]);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Lines of `text` that compare a value with a kind's name, switch on it or type it. */
function kindComparisons(text: string, names: readonly string[]): string[] {
  const name = `(['"\`])(?:${names.join('|')})\\1`;
  const patterns = [
    new RegExp(`[!=]==?\\s*${name}`),
    new RegExp(`${name}\\s*[!=]==?`),
    new RegExp(`case\\s+${name}\\s*:`),
    new RegExp(`${name}\\s*\\|`),
    new RegExp(`\\|\\s*${name}`),
    new RegExp(`\\.has\\(\\s*${name}\\s*\\)|\\.includes\\(\\s*${name}\\s*\\)`),
  ];
  return text.split('\n').filter((line) => patterns.some((pattern) => pattern.test(line)));
}

describe('the broker registry', () => {
  const names = BROKER_KINDS.map((kind) => kind.name);

  it('is the only place of src/ that compares a broker kind by its name', () => {
    const found: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const path = relative(SRC, file).split('\\').join('/');
      if (ALLOWED.has(path)) continue;
      for (const line of kindComparisons(readFileSync(file, 'utf8'), names)) found.push(`${path}: ${line.trim()}`);
    }
    expect(found).toEqual([]);
  });

  it('finds the comparisons it forbids (the scan would otherwise pass on anything)', () => {
    const old = [
      "  if (kind === 'sqs') return sqsPublishing(config, keys, logger, state);",
      "  if (brokerKind(config.broker.url) !== 'redis') return undefined;",
      "  let kind: 'redis' | 'amqp' | 'sqs' | undefined;",
      "    case 'amqp':",
    ].join('\n');
    expect(kindComparisons(old, names)).toHaveLength(4);
    expect(kindComparisons("    return this.lastFailure === undefined ? 'sqs' : 'x';", names)).toEqual([]);
  });

  it('wires every registered kind, and each scheme selects its kind', () => {
    expect(Object.keys(BROKERS).sort()).toEqual([...names].sort());
    for (const kind of BROKER_KINDS) for (const scheme of kind.schemes) expect(brokerKindOf(`${scheme}://h`).name).toBe(kind.name);
    expect(brokerKindOf('pyamqp://h').name).toBe('amqp');
    expect(() => brokerKindOf('http://h')).toThrow(UrlError);
  });

  it('puts the state where each kind needs it: on a Redis broker, in the local Redis beside AMQP, at state.url beside SQS', () => {
    const state = (url: string, stateUrl?: string) =>
      stateUrlFor({
        broker: { url, transportOptions: {} },
        state: { prefix: 'x', ...(stateUrl === undefined ? {} : { url: stateUrl }) },
      } as Parameters<typeof stateUrlFor>[0]);
    expect(state('redis://b:6379/1')).toBe('redis://b:6379/1');
    expect(state('amqp://b')).toBe('redis://127.0.0.1:6379/0');
    expect(state('sqs://', 'redis://s:6379/0')).toBe('redis://s:6379/0');
  });
});
