/**
 * A STAND-IN for AWS STS, for tests only: no local STS server is packaged (local-aws-sqs has none),
 * so this answers AssumeRole on a loopback port in STS's own wire format (the AWS query protocol:
 * a form POST with Action=AssumeRole&Version=2011-06-15, answered with an AssumeRoleResponse XML
 * document, as the STS API reference gives it). It checks no signature and grants any role: it is
 * there so a test can see what tsbeat ASKS for (RoleArn, RoleSessionName, DurationSeconds, and who
 * signed the call) and which credentials it then signs SQS requests with.
 *
 * Each AssumeRole is answered with fresh credentials (`ASIASTANDIN…` access key ids, numbered),
 * valid for the next of `lifetimesMs` (the last one repeats), counted from the answer; or refused
 * while `refuse` is above 0.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';

export interface AssumeRoleCall {
  readonly action: string | null;
  readonly version: string | null;
  readonly roleArn: string | null;
  readonly roleSessionName: string | null;
  readonly durationSeconds: string | null;
  /** The access key id in the call's SigV4 Authorization header (the caller's own credentials). */
  readonly signedBy: string | undefined;
  /** The credentials it was given. */
  readonly issued: { accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: string };
}

export class StsStandIn {
  readonly calls: AssumeRoleCall[] = [];
  /** AssumeRole calls still to refuse (403 AccessDenied, as STS refuses a role it may not assume); they are not recorded. */
  refuse = 0;
  private server: Server | undefined;

  constructor(private readonly lifetimesMs: readonly number[]) {}

  /** Listens on a free loopback port; resolves to its URL (for AWS_ENDPOINT_URL_STS). */
  async start(): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        if (this.refuse > 0) {
          this.refuse -= 1;
          res.writeHead(403, { 'content-type': 'text/xml' });
          res.end(
            `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>the stand-in refuses this call</Message></Error><RequestId>stand-in-refused</RequestId></ErrorResponse>`,
          );
          return;
        }
        const n = this.calls.length + 1;
        const lifetime = this.lifetimesMs[Math.min(n, this.lifetimesMs.length) - 1] ?? 3_600_000;
        const issued = {
          accessKeyId: `ASIASTANDIN${String(n).padStart(6, '0')}`,
          secretAccessKey: `stand-in-secret-${n}`,
          sessionToken: `stand-in-token-${n}`,
          expiration: new Date(Date.now() + lifetime).toISOString(),
        };
        this.calls.push({
          action: form.get('Action'),
          version: form.get('Version'),
          roleArn: form.get('RoleArn'),
          roleSessionName: form.get('RoleSessionName'),
          durationSeconds: form.get('DurationSeconds'),
          signedBy: /Credential=([^/,\s]+)\//.exec(String(req.headers.authorization ?? ''))?.[1],
          issued,
        });
        if (form.get('Action') !== 'AssumeRole') {
          res.writeHead(400, { 'content-type': 'text/xml' });
          res.end(
            `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>the stand-in answers AssumeRole only</Message></Error><RequestId>stand-in-${n}</RequestId></ErrorResponse>`,
          );
          return;
        }
        const role = form.get('RoleArn') ?? '';
        const session = form.get('RoleSessionName') ?? '';
        res.writeHead(200, { 'content-type': 'text/xml' });
        res.end(`<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser>
      <Arn>${role.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/')}/${session}</Arn>
      <AssumedRoleId>AROASTANDIN:${session}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>${issued.accessKeyId}</AccessKeyId>
      <SecretAccessKey>${issued.secretAccessKey}</SecretAccessKey>
      <SessionToken>${issued.sessionToken}</SessionToken>
      <Expiration>${issued.expiration}</Expiration>
    </Credentials>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>stand-in-${n}</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>`);
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('the STS stand-in has no port');
    return `http://127.0.0.1:${address.port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
