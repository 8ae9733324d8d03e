/**
 * What a broker kind would not deliver of the config's entries, found before anything runs
 * (`beat check`, `beat run`), registered per kind (src/config/broker-kinds.ts has the kinds).
 * Apart from src/publish/brokers.ts because `beat check` loads it: no client library here.
 */
import { brokerKindIfKnown } from '../config/broker-kinds.js';
import type { BrokerName } from '../config/broker-kinds.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { ConfigProblem } from '../base/errors.js';
import { sqsEntryProblems } from './sqs-entry-checks.js';

/** The kinds whose sending refuses some entries a config otherwise takes. */
const SEND_CHECKS: { readonly [Kind in BrokerName]?: (config: ResolvedConfig) => ConfigProblem[] } = {
  sqs: sqsEntryProblems,
};

/** The entries `config`'s broker would not deliver; none when its URL does not parse (said elsewhere). */
export function sendProblems(config: ResolvedConfig): ConfigProblem[] {
  const kind = brokerKindIfKnown(config.broker.url);
  return kind === undefined ? [] : (SEND_CHECKS[kind.name]?.(config) ?? []);
}
