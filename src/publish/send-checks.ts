/**
 * What a broker kind would not deliver of the config's entries, found before anything runs
 * (`beat check`, `beat run`), registered per kind (src/config/broker-kinds.ts has the kinds).
 * Apart from src/publish/brokers.ts because `beat check` loads it: no client library here, and a
 * kind's check is imported only when the config's broker is of that kind (the SQS check brings the
 * message encoders and msgpackr, which a config with another broker never needs: bench/cli-start.mjs).
 */
import { brokerKindIfKnown } from '../config/broker-kinds.js';
import type { BrokerName } from '../config/broker-kinds.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { ConfigProblem } from '../base/errors.js';

type SendCheck = (config: ResolvedConfig) => ConfigProblem[];

/** The kinds whose sending refuses some entries a config otherwise takes, each loaded when asked for. */
const SEND_CHECKS: { readonly [Kind in BrokerName]?: () => Promise<SendCheck> } = {
  sqs: async () => (await import('./sqs-entry-checks.js')).sqsEntryProblems,
};

/** The entries `config`'s broker would not deliver; none when its URL does not parse (said elsewhere). */
export async function sendProblems(config: ResolvedConfig): Promise<ConfigProblem[]> {
  const kind = brokerKindIfKnown(config.broker.url);
  const check = kind === undefined ? undefined : await SEND_CHECKS[kind.name]?.();
  return check === undefined ? [] : check(config);
}
