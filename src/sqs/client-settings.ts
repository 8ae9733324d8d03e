/**
 * kombu's `client-config` (botocore's `Config`, src/config/sqs-client-config.ts) as the AWS SDK for
 * JavaScript v3's client settings. Pure: the transport spreads the result into every SQSClient it
 * makes, as kombu passes `Config(**client_config)` to every boto3 client.
 */
import type { SqsClientConfig } from '../config/sqs-client-config.js';
import { DEFAULTS } from '../base/defaults.js';

export interface SqsClientSettings {
  /** botocore's `region_name`: wins over the session's region, for every client, as in botocore. */
  readonly region?: string;
  /** Attempts in all, the first included (botocore counts `max_attempts` without the first). */
  readonly maxAttempts?: number;
  /** The SDK has no "legacy" mode: botocore's legacy retries are the SDK's standard ones (see README). */
  readonly retryMode?: 'standard' | 'adaptive';
  readonly customUserAgent?: string;
  readonly userAgentAppId?: string;
  readonly useFipsEndpoint?: boolean;
  readonly useDualstackEndpoint?: boolean;
  readonly defaultsMode?: 'legacy' | 'standard' | 'in-region' | 'cross-region' | 'mobile' | 'auto';
  readonly ignoreConfiguredEndpointUrls?: boolean;
  /** The request handler's settings. */
  readonly connectionTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** botocore's `max_pool_connections`: sockets per host (the SDK's own default is 50). */
  readonly maxSockets?: number;
}

export function sqsClientSettings(config: SqsClientConfig | undefined): SqsClientSettings {
  const c = config ?? {};
  const retries = c.retries;
  const maxAttempts = retries?.total_max_attempts ?? (retries?.max_attempts === undefined ? undefined : retries.max_attempts + 1);
  const optional = <K extends keyof SqsClientSettings>(key: K, value: SqsClientSettings[K] | undefined) =>
    value === undefined ? {} : { [key]: value };
  return {
    ...optional('region', c.region_name),
    ...optional('maxAttempts', maxAttempts),
    ...optional('retryMode', retries?.mode === undefined ? undefined : retries.mode === 'adaptive' ? 'adaptive' : 'standard'),
    ...optional('customUserAgent', c.user_agent_extra),
    ...optional('userAgentAppId', c.user_agent_appid),
    ...optional('useFipsEndpoint', c.use_fips_endpoint),
    ...optional('useDualstackEndpoint', c.use_dualstack_endpoint),
    ...optional('defaultsMode', c.defaults_mode),
    ...optional('ignoreConfiguredEndpointUrls', c.ignore_configured_endpoint_urls),
    connectionTimeoutMs: c.connect_timeout === undefined ? DEFAULTS.sqsConnectTimeoutMs : c.connect_timeout * 1000,
    requestTimeoutMs: c.read_timeout === undefined ? DEFAULTS.sqsRequestTimeoutMs : c.read_timeout * 1000,
    ...optional('maxSockets', c.max_pool_connections),
  };
}
