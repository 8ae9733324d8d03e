/**
 * Celery's Amazon SQS broker URL, `sqs://[ACCESS_KEY:SECRET@][host[:port]]`, read as kombu 5.2's SQS
 * transport reads it (`kombu/transport/SQS.py`):
 * - the user and password are the access key id and secret access key, %-decoded (a secret key's
 *   '/' and '+' must be written %2F and %2B, as kombu's docs say); without them the AWS SDK's own
 *   credential chain is used (environment, shared profile, web identity, instance metadata);
 * - a host makes the endpoint `http://host[:port]`, or `https://…` with the transport option
 *   `is_secure: true` (kombu's `endpoint_url`); without a host the SDK's AWS endpoint of the region;
 * - the path (kombu's virtual host) means nothing to SQS and is ignored; no query option is taken.
 * Errors name the URL with its secret masked.
 */
import { decode, splitScheme, splitUrlParts, urlError } from './url-parts.js';
import { maskUrl } from './url-parts.js';

export interface SqsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface SqsConnectionSpec {
  /** From the URL's user info; undefined: the SDK's default credential chain. */
  readonly credentials: SqsCredentials | undefined;
  /** The host written in the URL; undefined: AWS itself. */
  readonly host: string | undefined;
  readonly port: number | undefined;
  /** The URL with its secret masked: the only form of it that may be logged. */
  readonly display: string;
}

export function parseSqsUrl(url: string): SqsConnectionSpec {
  const full = url.trim();
  const scheme = splitScheme(full);
  if (scheme === undefined || scheme.name !== 'sqs') throw urlError(url, 'an SQS broker URL starts with sqs://');
  if (full.includes(';')) throw urlError(url, "kombu's SQS transport takes one URL, not a ';'-separated list");
  const { user, password, host: rawHost, port: portText, query } = splitUrlParts(scheme.rest, (problem) => urlError(url, problem));
  if (query.size > 0)
    throw urlError(
      url,
      `sqs:// takes no query options (got "${[...query.keys()].join('", "')}"); SQS settings go in broker.transportOptions`,
    );
  let credentials: SqsCredentials | undefined;
  if (user !== undefined && user !== '') {
    if (password === undefined || password === '')
      throw urlError(
        url,
        'the URL names an access key id but no secret access key: write sqs://ACCESS_KEY:SECRET@… (or neither, for the default credential chain)',
      );
    credentials = { accessKeyId: decode(url, user, 'access key id'), secretAccessKey: decode(url, password, 'secret access key') };
  }
  const host = rawHost === '' ? undefined : decode(url, rawHost, 'host');
  let port: number | undefined;
  if (portText !== undefined && portText !== '') {
    if (host === undefined) throw urlError(url, 'a port needs a host: sqs://host:port');
    if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535 || Number(portText) === 0)
      throw urlError(url, `the port must be a number from 1 to 65535, not "${portText}"`);
    port = Number(portText);
  }
  return { credentials, host, port, display: maskUrl(full) };
}

/** kombu's `endpoint_url`: the URL's host over http, or https with `is_secure`; undefined for AWS itself. */
export function sqsEndpoint(spec: SqsConnectionSpec, isSecure: boolean | undefined): string | undefined {
  if (spec.host === undefined) return undefined;
  const host = spec.host.includes(':') ? `[${spec.host}]` : spec.host;
  return `${isSecure === true ? 'https' : 'http'}://${host}${spec.port === undefined ? '' : `:${spec.port}`}`;
}
