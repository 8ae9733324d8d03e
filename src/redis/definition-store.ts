/**
 * The deployment's recorded definition (keys.ts `definition`): the leader writes the one it runs
 * when it starts leading and after a reload, only when its digest changed (one small check
 * otherwise, lua/definition-write.lua); `beat plan --config NEW` reads it to compare NEW with.
 */
import type { RedisClient } from './connect.js';
import type { DeploymentDefinition } from '../control/deployment-definition.js';
import { decodeDefinition, definitionBody, encodeDefinition } from './definition-codec.js';
import type { DecodedDefinition } from './definition-codec.js';
import { typedKeys } from './keys.js';
import type { SchedulerKeys } from './keys.js';
import { withScripts } from './scripts.js';
import { nameWrongType } from './server-errors.js';

type DefinitionKeys = Pick<SchedulerKeys, 'definition'>;

export type RecordOutcome =
  | { readonly outcome: 'unchanged' | 'written' }
  /** Too large: the record says so (a plan refuses with `reason`) rather than keeping an older one. */
  | { readonly outcome: 'refused'; readonly reason: string };

async function named<T>(client: RedisClient, keys: DefinitionKeys, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw await nameWrongType(client, error, typedKeys(keys, ['definition']));
  }
}

/**
 * Records `definition` unless the stored one has its digest. `maxBytes` bounds the record (the
 * runtime store's budget, `limitName` names it): a larger one is recorded as refused.
 */
export async function recordDefinition(
  client: RedisClient,
  keys: DefinitionKeys,
  definition: DeploymentDefinition,
  options: { readonly nowMs: number; readonly maxBytes: number; readonly limitName: string },
): Promise<RecordOutcome> {
  const body = definitionBody(definition);
  const scripts = withScripts(client);
  return named(client, keys, async () => {
    if ((await scripts.definitionWrite(1, [keys.definition, body.digest, 'check'])) === 0) return { outcome: 'unchanged' };
    const { fields, refused } = encodeDefinition(definition, body, options.nowMs, options.maxBytes, options.limitName);
    await scripts.definitionWrite(1, [keys.definition, body.digest, 'write', ...Object.entries(fields).flat()]);
    return refused === undefined ? { outcome: 'written' } : { outcome: 'refused', reason: refused };
  });
}

/** The recorded definition's digest (one field), undefined when none is recorded: whether a copy read before is still the record. */
export async function readDefinitionDigest(client: RedisClient, keys: DefinitionKeys): Promise<string | undefined> {
  return (await named(client, keys, () => client.hget(keys.definition, 'digest'))) ?? undefined;
}

/** The recorded definition, as the codec reads it (none, recorded, refused or unreadable). */
export async function readDefinition(client: RedisClient, keys: DefinitionKeys): Promise<DecodedDefinition> {
  return decodeDefinition(await named(client, keys, () => client.hgetall(keys.definition)));
}
