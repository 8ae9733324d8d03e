/**
 * The stored format of a deployment's recorded definition (keys.ts `definition`, a hash), the one
 * codec of it: what the leader writes (definition-store.ts) and `beat plan --config` reads.
 *   v           "1"
 *   digest      the digest of the body (definitionBody), also when it was too large to record
 *   configHash  the fingerprint of the config it was made from
 *   source      the config file, as the leader named it
 *   at          when it was recorded (epoch ms)
 *   body        JSON {settings, entries}; absent when the definition was too large to record, then
 *   refused     why (its size and the limit), for the plan to say
 * Read as untrusted: anything else is named as unreadable, never used.
 */
import { createHash } from 'node:crypto';
import type { DeploymentDefinition } from '../control/deployment-definition.js';

export const DEFINITION_FORMAT = '1';

export type DecodedDefinition =
  | { readonly kind: 'none' }
  | { readonly kind: 'recorded'; readonly definition: DeploymentDefinition; readonly digest: string; readonly atMs: number }
  /** The leader's definition was too large to record: why. */
  | { readonly kind: 'refused'; readonly reason: string; readonly configHash: string; readonly atMs: number }
  | { readonly kind: 'unreadable'; readonly problem: string };

/** A definition's body as stored, and its digest: what the leader compares to write only a changed one. */
export interface DefinitionBody {
  readonly text: string;
  readonly digest: string;
}

/**
 * The body of a definition (its settings and entries, as JSON) and its digest. One stringify of
 * the entries as written, which a leader of many entries pays at each start and reload (the
 * fingerprint costs more): the same file gives the same text, so the same digest.
 */
export function definitionBody(definition: Pick<DeploymentDefinition, 'settings' | 'entries'>): DefinitionBody {
  const text = JSON.stringify({ settings: definition.settings, entries: definition.entries });
  return { text, digest: `sha256:${createHash('sha256').update(text).digest('hex')}` };
}

/**
 * The fields of a definition, or, when its body is over `maxBytes`, the fields that say so (the
 * plan then refuses with the reason, instead of comparing with an older definition).
 */
export function encodeDefinition(
  definition: DeploymentDefinition,
  body: DefinitionBody,
  atMs: number,
  maxBytes: number,
  limitName: string,
): { fields: Record<string, string>; refused?: string } {
  const head = {
    v: DEFINITION_FORMAT,
    digest: body.digest,
    configHash: definition.configHash,
    source: definition.source,
    at: String(atMs),
  };
  const bytes = Buffer.byteLength(body.text);
  if (bytes <= maxBytes) return { fields: { ...head, body: body.text } };
  const refused = `the config's definition is ${bytes} bytes, over ${limitName} (${maxBytes}); it was not recorded`;
  return { fields: { ...head, refused }, refused };
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The hash's fields (HGETALL) read back. */
export function decodeDefinition(fields: Readonly<Record<string, string>>): DecodedDefinition {
  if (Object.keys(fields).length === 0) return { kind: 'none' };
  const { v, digest, configHash, source, at, body, refused } = fields;
  if (v !== DEFINITION_FORMAT)
    return { kind: 'unreadable', problem: `its format is ${JSON.stringify(v ?? null)}, not ${DEFINITION_FORMAT}` };
  const atMs = Number(at);
  if (digest === undefined || configHash === undefined || source === undefined || !Number.isSafeInteger(atMs))
    return { kind: 'unreadable', problem: 'it lacks digest, configHash, source or at' };
  if (refused !== undefined) return { kind: 'refused', reason: refused, configHash, atMs };
  if (body === undefined) return { kind: 'unreadable', problem: 'it has neither body nor refused' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { kind: 'unreadable', problem: 'its body is not JSON' };
  }
  if (!isMapping(parsed) || !isMapping(parsed['settings']) || !isMapping(parsed['entries']))
    return { kind: 'unreadable', problem: 'its body is not {settings, entries}' };
  return { kind: 'recorded', definition: { configHash, source, settings: parsed['settings'], entries: parsed['entries'] }, digest, atMs };
}
