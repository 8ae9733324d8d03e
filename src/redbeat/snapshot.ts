/**
 * Every entry RedBeat holds now, mapped to tsbeat's form (definition.ts) and checked, for
 * `beat import redbeat`: the entries of RedBeat's schedule zset, read in chunks.
 */
import type { Redis } from 'ioredis';
import type { ConfigProblem } from '../base/errors.js';
import { parseEntryDefinition } from '../config/entry-definition.js';
import { beyond, mapRedBeatDefinition } from './definition.js';
import type { RedBeatKeys } from './keys.js';

export interface SnapshotEntry {
  readonly name: string;
  /** The tsbeat entry (JSON), when it is valid. */
  readonly entry?: Record<string, unknown>;
  readonly problems: readonly ConfigProblem[];
}

const CHUNK = 1000;

export async function snapshotRedBeat(client: Redis, keys: RedBeatKeys): Promise<SnapshotEntry[]> {
  const out: SnapshotEntry[] = [];
  for (let start = 0; ; start += CHUNK) {
    const members = await client.zrange(keys.schedule, String(start), String(start + CHUNK - 1));
    const named = members
      .map((key) => ({ key, name: keys.nameOf(key) }))
      .filter((m): m is { key: string; name: string } => m.name !== undefined);
    const pipeline = client.pipeline();
    for (const { key } of named) pipeline.hget(key, 'definition');
    const replies = named.length === 0 ? [] : ((await pipeline.exec()) ?? []);
    named.forEach(({ name }, i) => {
      const [error, text] = replies[i] ?? [null, null];
      if (error !== null || typeof text !== 'string') return; // deleted meanwhile (its hash is gone)
      out.push(mapOne(name, text));
    });
    if (members.length < CHUNK) break;
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function mapOne(name: string, text: string): SnapshotEntry {
  let definition: unknown;
  try {
    definition = JSON.parse(text);
  } catch {
    return { name, problems: [{ path: '', message: 'the RedBeat definition is not JSON' }] };
  }
  const mapped = mapRedBeatDefinition(definition);
  if (mapped.entry === undefined) return { name, problems: mapped.problems };
  const parsed = parseEntryDefinition(mapped.entry);
  const problems = [...mapped.problems, ...(parsed.ok ? [] : beyond(parsed.problems, mapped.problems))];
  return problems.length > 0 ? { name, problems } : { name, entry: tidy(mapped.entry), problems };
}

/** Leaves out what says nothing (empty args, kwargs, options; enabled, relative at their defaults). */
function tidy(entry: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entry)) {
    if (Array.isArray(value) && value.length === 0) continue;
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0) continue;
    if ((key === 'enabled' && value === true) || (key === 'relative' && value === false)) continue;
    out[key] = value;
  }
  return out;
}
