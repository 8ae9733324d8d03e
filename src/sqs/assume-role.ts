/**
 * kombu's `sts_role_arn` (kombu/transport/SQS.py `_handle_sts_session`,
 * `generate_sts_session_token`): the predefined queues are sent to with the credentials of an
 * assumed role. As kombu does it: STS AssumeRole with RoleSessionName "Celery" and DurationSeconds
 * `sts_token_timeout` (default 900), the call itself signed with the default credential chain
 * (kombu's `boto3.client('sts')`: environment, profile, web identity, instance metadata; not the
 * broker URL's keys), and assumed again `sts_token_buffer_time` seconds before the credentials
 * expire (kombu 5.6; kombu 5.2 waits until they have expired, so its first call after that fails).
 *
 * Refreshed earlier than kombu: the AWS SDK asks a credentials provider again once fewer than 5
 * minutes remain, and so does this one, so no request is ever signed with credentials about to
 * lapse. Every SQS client of the transport shares one provider: one AssumeRole per refresh.
 *
 * The STS endpoint is the SDK's for the region; AWS_ENDPOINT_URL_STS in the environment (the SDK's
 * own setting) points it elsewhere, such as at a VPC endpoint.
 */
import type * as Sts from '@aws-sdk/client-sts';
import type { STSClient } from '@aws-sdk/client-sts';
import { loadOnFirstUse } from '../base/load-on-first-use.js';
import { BeatError, ErrorCode, errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';

/** kombu's RoleSessionName for `sts_role_arn` (CloudTrail shows the role's calls under it). */
const SQS_STS_SESSION_NAME = 'Celery';

const loadSts = loadOnFirstUse<typeof Sts>('@aws-sdk/client-sts');

/** The AWS SDK's own refresh window (@smithy/core EXPIRATION_MS): it asks a provider again within it. */
const SDK_REFRESH_WINDOW_MS = 300_000;

export interface AssumeRoleSettings {
  readonly roleArn: string;
  /** DurationSeconds (kombu's sts_token_timeout). */
  readonly durationS: number;
  /** kombu's sts_token_buffer_time: assume again this long before expiry. */
  readonly bufferS: number;
  /** The STS client's region. */
  readonly region: string | (() => Promise<string>);
  readonly requestTimeoutMs: number;
  readonly connectionTimeoutMs: number;
}

export interface RoleCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  /** When the SDK is to ask again: the refresh instant plus its own 5-minute window. */
  readonly expiration: Date;
}

/**
 * The role's credentials for SQS clients (their `credentials` setting): assumed on first use and
 * again before they expire; one AssumeRole at a time, however many sends ask.
 */
export class AssumedRole {
  private client: STSClient | undefined;
  private current: Promise<RoleCredentials> | undefined;
  private refreshing = false;
  private refreshAtMs = 0;

  constructor(
    private readonly settings: AssumeRoleSettings,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  readonly credentials = (): Promise<RoleCredentials> => {
    if (!this.refreshing && (this.current === undefined || this.now() >= this.refreshAtMs)) {
      this.refreshing = true;
      const attempt = this.assume().finally(() => {
        this.refreshing = false;
      });
      this.current = attempt;
      // A failed AssumeRole is not kept: the next send asks STS again.
      attempt.catch(() => {
        if (this.current === attempt) this.current = undefined;
      });
    }
    return this.current as Promise<RoleCredentials>;
  };

  close(): void {
    this.client?.destroy();
    this.client = undefined;
  }

  private async assume(): Promise<RoleCredentials> {
    const { settings } = this;
    const sdk = loadSts();
    this.client ??= new sdk.STSClient({
      region: settings.region,
      requestHandler: { connectionTimeout: settings.connectionTimeoutMs, requestTimeout: settings.requestTimeoutMs },
    });
    let reply: Sts.AssumeRoleCommandOutput;
    try {
      reply = await this.client.send(
        new sdk.AssumeRoleCommand({
          RoleArn: settings.roleArn,
          RoleSessionName: SQS_STS_SESSION_NAME,
          DurationSeconds: settings.durationS,
        }),
      );
    } catch (error) {
      throw new BeatError(ErrorCode.BrokerPublish, `assuming the role ${settings.roleArn} (sts_role_arn) failed: ${errorMessage(error)}`, {
        cause: error,
      });
    }
    const c = reply.Credentials;
    if (c?.AccessKeyId === undefined || c.SecretAccessKey === undefined || c.SessionToken === undefined || c.Expiration === undefined)
      throw new BeatError(ErrorCode.BrokerPublish, `STS answered AssumeRole for ${settings.roleArn} without credentials`);
    const expiresMs = c.Expiration.getTime();
    this.refreshAtMs = expiresMs - Math.max(settings.bufferS * 1000, SDK_REFRESH_WINDOW_MS);
    this.logger.info(
      {
        event: EVENTS.brokerCredentials,
        roleArn: settings.roleArn,
        accessKeyId: c.AccessKeyId,
        expires: c.Expiration.toISOString(),
        refreshAt: new Date(this.refreshAtMs).toISOString(),
      },
      `assumed the role ${settings.roleArn} for SQS (sts_role_arn)`,
    );
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
      // The SDK asks again once fewer than its 5 minutes remain: from the refresh instant on.
      expiration: new Date(this.refreshAtMs + SDK_REFRESH_WINDOW_MS),
    };
  }
}
