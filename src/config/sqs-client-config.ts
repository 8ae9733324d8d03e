/**
 * kombu's `client-config` transport option: the keyword arguments of botocore's `Config`, which
 * kombu passes to every SQS client it makes (`Config(**client_config)`, kombu/transport/SQS.py
 * `new_sqs_client`). Keys are botocore's own (snake_case, as a Celery app writes them); a key
 * botocore's `Config` does not know is refused, as botocore refuses it (TypeError: Got unexpected
 * keyword argument).
 *
 * Three kinds of key (README "Amazon SQS" lists them):
 * - taken, with the AWS SDK for JavaScript v3's equivalent (src/sqs/client-settings.ts maps them);
 * - accepted with no effect, because they change nothing an SQS publisher sends (S3's settings,
 *   host prefixes and endpoint discovery, which no SQS operation uses, client-side parameter
 *   validation, which the SDK v3 does not do);
 * - refused, naming what to do instead, where tsbeat cannot do what botocore would (a proxy, a
 *   client certificate, a user agent replaced whole, a signature other than SigV4).
 */
import * as z from 'zod';
import { closest } from '../base/did-you-mean.js';

const seconds = (key: string) =>
  z.number({ error: `client-config.${key} must be a number of seconds` }).positive({ error: `client-config.${key} must be above 0` });
const flag = (key: string) => z.boolean({ error: `client-config.${key} must be true or false` });
const wholeAtLeast = (key: string, min: number) =>
  z
    .number({ error: `client-config.${key} must be a whole number` })
    .int({ error: `client-config.${key} must be a whole number` })
    .min(min, { error: `client-config.${key} must be at least ${min}` });

/** botocore's retry settings (`retries`). */
const retries = z.strictObject(
  {
    /** Retries after the first attempt (botocore's older spelling). */
    max_attempts: wholeAtLeast('retries.max_attempts', 0).optional(),
    /** Attempts in all, the first included; wins over max_attempts, as in botocore. */
    total_max_attempts: wholeAtLeast('retries.total_max_attempts', 1).optional(),
    mode: z
      .enum(['legacy', 'standard', 'adaptive'], { error: 'client-config.retries.mode must be "legacy", "standard" or "adaptive"' })
      .optional(),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `client-config.retries: botocore takes max_attempts, total_max_attempts and mode; remove ${issue.keys.map((k) => `"${k}"`).join(', ')}`
        : 'client-config.retries must be an object such as { max_attempts: 3, mode: "standard" }',
  },
);

/** Taken: the SDK has an equivalent. */
const taken = {
  region_name: z.string({ error: 'client-config.region_name must be a region such as "eu-west-1"' }).min(1).optional(),
  connect_timeout: seconds('connect_timeout').optional(),
  read_timeout: seconds('read_timeout').optional(),
  retries: retries.optional(),
  max_pool_connections: wholeAtLeast('max_pool_connections', 1).optional(),
  user_agent_extra: z.string({ error: 'client-config.user_agent_extra must be a string' }).optional(),
  user_agent_appid: z.string({ error: 'client-config.user_agent_appid must be a string' }).optional(),
  use_fips_endpoint: flag('use_fips_endpoint').optional(),
  use_dualstack_endpoint: flag('use_dualstack_endpoint').optional(),
  defaults_mode: z
    .enum(['legacy', 'standard', 'in-region', 'cross-region', 'mobile', 'auto'], {
      error: 'client-config.defaults_mode must be one of legacy, standard, in-region, cross-region, mobile, auto',
    })
    .optional(),
  ignore_configured_endpoint_urls: flag('ignore_configured_endpoint_urls').optional(),
  /** Only SigV4 signs SQS requests: "v4" is taken (and is what the SDK does), any other is refused. */
  signature_version: z.string({ error: 'client-config.signature_version must be a string' }).optional(),
};

/** Accepted, no effect on what tsbeat sends to SQS (see the header). */
const noEffect = [
  'parameter_validation',
  'tcp_keepalive',
  's3',
  's3_disable_express_session_auth',
  'inject_host_prefix',
  'endpoint_discovery_enabled',
  'request_min_compression_size_bytes',
  'disable_request_compression',
  'client_context_params',
  'sigv4a_signing_region_set',
  'request_checksum_calculation',
  'response_checksum_validation',
  'account_id_endpoint_mode',
  'auth_scheme_preference',
] as const;

/** Refused with what to do instead. */
const REFUSED_KEYS = ['proxies', 'proxies_config', 'client_cert', 'user_agent'] as const;
export const SQS_CLIENT_CONFIG_REFUSED: Readonly<Record<(typeof REFUSED_KEYS)[number], string>> = {
  proxies:
    'tsbeat sends to SQS without a proxy: give it a route to SQS (a VPC endpoint on AWS) or run it where one is reachable, and remove proxies',
  proxies_config: 'tsbeat sends to SQS without a proxy (see proxies); remove proxies_config',
  client_cert: 'tsbeat does not present a client certificate to SQS; remove client_cert',
  user_agent: 'the AWS SDK builds its own user agent; add to it with user_agent_extra or user_agent_appid, and remove user_agent',
};

/** Keys whose value is not looked at (accepted, or refused by sqsClientConfigProblems whatever it is). */
function anyValue<K extends string>(keys: readonly K[]): Record<K, z.ZodOptional<z.ZodUnknown>> {
  return Object.fromEntries(keys.map((key) => [key, z.unknown().optional()])) as Record<K, z.ZodOptional<z.ZodUnknown>>;
}

const KNOWN_KEYS = [...Object.keys(taken), ...noEffect, ...REFUSED_KEYS];

export const sqsClientConfig = z.strictObject(
  {
    ...taken,
    ...anyValue(noEffect),
    ...anyValue(REFUSED_KEYS),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys
            .map((key) => {
              const hint = closest(key, KNOWN_KEYS);
              return `client-config: botocore's Config has no "${key}" (kombu would fail on it); ${hint === undefined ? 'remove it' : `did you mean "${hint}"?`}`;
            })
            .join('\n')
        : 'client-config must be an object of botocore Config settings, such as { connect_timeout: 5 }',
  },
);

export type SqsClientConfig = z.output<typeof sqsClientConfig>;

/** The keys tsbeat cannot honour, each with its fix (checked by `beat check` and at start). */
export function sqsClientConfigProblems(config: SqsClientConfig): { key: string; message: string }[] {
  const problems: { key: string; message: string }[] = [];
  for (const [key, message] of Object.entries(SQS_CLIENT_CONFIG_REFUSED))
    if ((config as Record<string, unknown>)[key] !== undefined) problems.push({ key, message });
  if (config.signature_version !== undefined && config.signature_version !== 'v4')
    problems.push({
      key: 'signature_version',
      message: `SQS takes Signature Version 4 only, which tsbeat always uses: remove signature_version (or write "v4"), not "${config.signature_version}"`,
    });
  return problems;
}
