/**
 * POST /api/plan and POST /api/apply (http/api-app.ts) on the runtime store: the entries of the
 * request checked as the entries API checks them, then planned and applied by the same path as
 * `beat plan` and `beat apply` (redis/owner-apply.ts).
 */
import type { RedisClient } from '../redis/connect.js';
import { DEFAULTS } from '../base/defaults.js';
import { ConfigError, ErrorCode } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { newEntryNameProblems } from '../config/entry-definition.js';
import type { PlannedInput } from '../control/entry-plan.js';
import type { PlanHandlers, PlanRequest } from '../http/api-ports.js';
import type { RedisEntryStore } from '../redis/entry-store.js';
import type { SchedulerKeys } from '../redis/keys.js';
import { ownedInputs } from '../redis/owner-apply.js';
import { applyEntries, planEntries } from '../operations/plan-verbs.js';
import { operator, whileConnected } from './entries-handlers.js';

export function planHandlers(options: {
  store: RedisEntryStore;
  client: RedisClient;
  keys: Pick<SchedulerKeys, 'state' | 'paused' | 'audit'>;
  /** The config's zone now (it changes on reload). */
  zone: () => string;
  /** The deployment's name (a reload cannot change it): it seeds hashed times (H, spread) a plan shows. */
  deployment: string;
  now: () => number;
  audit?: { readonly maxEvents?: number; readonly logger?: Logger };
}): PlanHandlers {
  const { store, client, keys, zone, deployment, now } = options;
  /** The request's entries given the owner and checked as the store checks a write (ENTRY_INVALID, 400, with every problem). */
  const inputsOf = async (request: PlanRequest, nowMs: number): Promise<PlannedInput[]> => {
    const ownerProblems = newEntryNameProblems(request.owner);
    if (ownerProblems.length > 0)
      throw new ConfigError(
        'request body',
        ownerProblems.map((p) => ({ ...p, path: 'owner' })),
        ErrorCode.EntryInvalid,
      );
    const names = Object.keys(request.entries);
    const inputs = ownedInputs(
      names.map((name) => ({ name, entry: request.entries[name] })),
      request.owner,
      'request body',
      ['entries'],
    );
    // Checked as a write of them would be (names, the config's names, the schema, queues, cost: off
    // the scheduler's loop, within the write's time); nothing is sent.
    await store.check(
      inputs.map((i) => ({ op: 'put', name: i.name, entry: i.entry })),
      { nowMs, source: 'request body' },
    );
    return inputs;
  };
  return {
    plan: (request, by) =>
      whileConnected(client, async () => {
        const nowMs = now();
        return planEntries({ client, keys, store }, operator(by, undefined), {
          owner: request.owner,
          inputs: await inputsOf(request, nowMs),
          zone: zone(),
          deployment,
          nowMs,
          horizonMs: request.horizonMs ?? DEFAULTS.loadHorizonMs,
        });
      }),
    apply: (request, by, note) =>
      whileConnected(client, async () => {
        const nowMs = now();
        const stores = { client, keys, store, ...(options.audit === undefined ? {} : { auditSettings: options.audit }) };
        const { plan, version } = await applyEntries(stores, operator(by, note), {
          owner: request.owner,
          inputs: await inputsOf(request, nowMs),
          zone: zone(),
          deployment,
          nowMs,
          planDigest: request.planDigest,
          checked: true,
          source: 'request body',
        });
        return { ...plan, version };
      }),
  };
}
