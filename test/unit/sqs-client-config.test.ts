/**
 * kombu's `client-config` (botocore's Config): which keys `beat check` takes, held to botocore's
 * own list (Debian's python3-botocore is the oracle: a key it does not know is one kombu would fail
 * on), and the AWS SDK settings the taken ones become.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SQS_CLIENT_CONFIG_REFUSED, sqsClientConfig, sqsClientConfigProblems } from '../../src/config/sqs-client-config.js';
import { sqsClientSettings } from '../../src/sqs/client-settings.js';
import { DEFAULTS } from '../../src/base/defaults.js';

const botocore = spawnSync(
  '/usr/bin/python3',
  ['-c', 'import json\nfrom botocore.config import Config\nprint(json.dumps(list(Config.OPTION_DEFAULTS)))'],
  { encoding: 'utf8', timeout: 30_000 },
);
// In CI the oracle must be there (.ci/run installs python3-boto3): a missing one fails, not skips.
const oracle = botocore.status === 0 || process.env['CI'] ? it : it.skip;

/** What `beat check` says of one client-config key: taken, or its problem. */
function verdict(key: string, value: unknown): string {
  const parsed = sqsClientConfig.safeParse({ [key]: value });
  if (!parsed.success) return parsed.error.issues.map((i) => i.message).join('; ');
  const problems = sqsClientConfigProblems(parsed.data);
  return problems.length === 0 ? 'taken' : problems.map((p) => p.message).join('; ');
}

describe("client-config (botocore's Config)", () => {
  oracle("knows every key of botocore's Config, and refuses one it does not know, as botocore would", () => {
    const keys = JSON.parse(botocore.stdout) as string[];
    expect(keys.length).toBeGreaterThan(15);
    for (const key of keys) {
      const value =
        key === 'retries'
          ? {}
          : key.endsWith('timeout') || key === 'max_pool_connections'
            ? 5
            : key === 'defaults_mode'
              ? 'standard'
              : key === 'signature_version'
                ? 'v4'
                : key.startsWith('use_') ||
                    key === 'tcp_keepalive' ||
                    key === 'parameter_validation' ||
                    key === 'ignore_configured_endpoint_urls'
                  ? true
                  : key === 'region_name'
                    ? 'eu-west-1'
                    : 'x';
      const said = verdict(key, value);
      expect(said, key).not.toMatch(/has no/);
      if (said !== 'taken') expect(Object.keys(SQS_CLIENT_CONFIG_REFUSED), `${key}: ${said}`).toContain(key);
    }
    expect(verdict('bogus_setting', 5)).toBe(`client-config: botocore's Config has no "bogus_setting" (kombu would fail on it); remove it`);
    expect(verdict('max_connections', 5)).toBe(
      `client-config: botocore's Config has no "max_connections" (kombu would fail on it); did you mean "max_pool_connections"?`,
    );
  });

  it('refuses bad values with the key named', () => {
    expect(verdict('connect_timeout', 0)).toBe('client-config.connect_timeout must be above 0');
    expect(verdict('retries', { attempts: 3 })).toBe(
      'client-config.retries: botocore takes max_attempts, total_max_attempts and mode; remove "attempts"',
    );
    expect(verdict('retries', { mode: 'eager' })).toBe('client-config.retries.mode must be "legacy", "standard" or "adaptive"');
    expect(verdict('defaults_mode', 'fast')).toMatch(/defaults_mode must be one of legacy, standard, in-region/);
    expect(verdict('signature_version', 'v4')).toBe('taken');
    expect(verdict('signature_version', 's3v4')).toMatch(/Signature Version 4 only/);
    expect(verdict('client_cert', '/etc/cert.pem')).toBe('tsbeat does not present a client certificate to SQS; remove client_cert');
  });

  it('becomes the AWS SDK client settings botocore would apply', () => {
    expect(sqsClientSettings(undefined)).toEqual({
      connectionTimeoutMs: DEFAULTS.sqsConnectTimeoutMs,
      requestTimeoutMs: DEFAULTS.sqsRequestTimeoutMs,
    });
    expect(
      sqsClientSettings({
        region_name: 'eu-central-1',
        connect_timeout: 2.5,
        read_timeout: 30,
        // botocore: retries after the first attempt; the SDK counts the first too.
        retries: { max_attempts: 4, mode: 'legacy' },
        max_pool_connections: 20,
        user_agent_extra: 'billing/1.0',
        user_agent_appid: 'billing',
        use_fips_endpoint: true,
        use_dualstack_endpoint: false,
        defaults_mode: 'in-region',
        ignore_configured_endpoint_urls: true,
        parameter_validation: false,
        tcp_keepalive: true,
      }),
    ).toEqual({
      region: 'eu-central-1',
      connectionTimeoutMs: 2500,
      requestTimeoutMs: 30_000,
      maxAttempts: 5,
      retryMode: 'standard',
      maxSockets: 20,
      customUserAgent: 'billing/1.0',
      userAgentAppId: 'billing',
      useFipsEndpoint: true,
      useDualstackEndpoint: false,
      defaultsMode: 'in-region',
      ignoreConfiguredEndpointUrls: true,
    });
    // total_max_attempts counts the first attempt, and wins over max_attempts, as in botocore.
    expect(sqsClientSettings({ retries: { max_attempts: 9, total_max_attempts: 3, mode: 'adaptive' } })).toMatchObject({
      maxAttempts: 3,
      retryMode: 'adaptive',
    });
  });
});
