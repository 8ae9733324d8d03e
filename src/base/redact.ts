/**
 * The one home of secret masking: every place that prints a URL, or a value or message that may hold
 * one (a log line, an error, an audit event, an API answer), prints it through here.
 *
 * What is a secret: a URL's user info (`user:pass@` → `user:***@`, `token@` → `***@`) and the value
 * of every parameter of its query (`?bogus=…` → `?bogus=***`): a URL is the user's text, and a secret
 * may hide under any name (a misspelt `passwrod`, a receiver's own `?code=`). A URL's host, port,
 * path and parameter names stay as written, so that a person can still tell which URL it is. A
 * query that is no URL's (a request's target, `/api/entries?limit=5`, or the project's own hint
 * `add ?ssl_cert_reqs=required`) keeps all but its password-like values (see `isSecretParam`).
 *
 * An alert receiver's URL, where the code knows it is one, shows its scheme and host only
 * (`maskAlertUrl`): receivers keep their secret in the path.
 *
 * Why masking by shape rather than by source: a secret reaches a message by many roads (an Error
 * that quotes its URL, a refused setting echoed back, a field of a diff), and a rule applied where
 * the text is printed catches all of them, including those written later.
 */

/** Parameter names whose value is a secret, lower-cased (kombu, redis-py, OAuth, signed URLs). */
const SECRET_PARAMS = new Set([
  'password',
  'passwd',
  'pass',
  'pwd',
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'auth',
  'auth_token',
  'authorization',
  'secret',
  'client_secret',
  'key',
  'apikey',
  'api_key',
  'api-key',
  'sig',
  'signature',
  'sentinel_password',
  'x-amz-signature',
  'x-amz-credential',
  'x-amz-security-token',
]);

/**
 * Whether a query parameter's value is a secret: a name in SECRET_PARAMS, or one that ends in
 * password, passwd, secret, token or a `_key`/`-key` (`private_key`, `x-api-key`) whatever its case.
 * `ssl_keyfile` and the like name files, not secrets, and stay.
 */
export function isSecretParam(name: string): boolean {
  const n = name.toLowerCase();
  return SECRET_PARAMS.has(n) || /(?:password|passwd|secret|token|[_-]key)$/.test(n);
}

export const MASK = '***';

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/** `k=v&k2=v2` with the values of the parameters `masked` picks masked; the rest as written (still encoded). */
function maskQuery(query: string, masked: (name: string) => boolean): string {
  return query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq === -1) return pair;
      let name = pair.slice(0, eq);
      try {
        name = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        // A malformed escape: judged as written.
      }
      return masked(name) ? `${pair.slice(0, eq)}=${MASK}` : pair;
    })
    .join('&');
}

const everyParam = (): boolean => true;

/** One URL (no ';'): its user info and every query value masked. */
function maskOne(part: string): string {
  const match = SCHEME.exec(part);
  const prefix = match?.[0] ?? '';
  const rest = part.slice(prefix.length);
  // The user info runs to the LAST '@' (a raw '@' in a password is allowed, as kombu reads it), so
  // it is looked for before the query: a password may hold '/', '?' or '#'.
  const at = rest.lastIndexOf('@');
  let info = '';
  let after = rest;
  if (at !== -1 && (match !== null || !/[/?#]/.test(rest.slice(0, at)))) {
    const given = rest.slice(0, at);
    const colon = given.indexOf(':');
    info = `${colon === -1 ? MASK : `${given.slice(0, colon)}:${MASK}`}@`;
    after = rest.slice(at + 1);
  }
  const q = after.indexOf('?');
  if (q !== -1) {
    const hash = after.indexOf('#', q);
    const query = after.slice(q + 1, hash === -1 ? undefined : hash);
    after = `${after.slice(0, q + 1)}${maskQuery(query, everyParam)}${hash === -1 ? '' : after.slice(hash)}`;
  }
  return `${prefix}${info}${after}`;
}

/**
 * A URL, or several separated by ';' (kombu's failover lists), with every user info and every
 * query value masked: `redis://u:p@h/0?password=x&bogus=y` → `redis://u:***@h/0?password=***&bogus=***`.
 */
export function maskUrl(url: string): string {
  return url.includes(';') ? url.split(';').map(maskOne).join(';') : maskOne(url);
}

/**
 * An alert receiver's URL (a webhook, a ping) as logs, audit events and API answers show it: its
 * scheme and host, and `/***` for whatever follows (`https://hooks.slack.com/***`). Receivers keep
 * their secret in the path, not in the user info or query maskUrl masks: Slack's
 * `/services/T…/B…/<secret>`, Discord's `/api/webhooks/<id>/<token>`, healthchecks.io's
 * `/<uuid>` (the first segment), so all of it goes; the delivery's id names the entry and kind.
 */
export function maskAlertUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return MASK;
  }
  const rest = parsed.pathname !== '/' || parsed.search !== '' || parsed.hash !== '';
  return `${parsed.protocol}//${parsed.host}${rest ? `/${MASK}` : ''}`;
}

/**
 * What may be a URL inside free text: `scheme://` up to white space, a quote or an angle bracket,
 * which end it in prose, JSON or a log line, less one ':', ',' or '.' before that end (the prose's
 * `broker URL redis://h/0?x=1: …`: taken as the URL's, it would go under the mask of the last value).
 * Brackets and parentheses do not end it: a password may hold them, and a URL cut short would
 * leave the rest of its password unmasked.
 */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'`<>]+?(?=[:,.]?(?:[\s"'`<>]|$))/gi;
/** A query string inside free text that is not part of a `scheme://` URL, e.g. a request target `/x?token=…`. */
const QUERY_IN_TEXT = /\?([^\s"'`<>#]+)/g;

/**
 * Free text (an error's message, a problem, a log message) with every URL in it masked, and the
 * secret parameters of any other query string in it (a request's target, `/api/x?token=…`).
 */
export function redactText(text: string): string {
  if (!text.includes('://') && !text.includes('?') && !text.includes('@')) return text;
  const urls = text.replace(URL_IN_TEXT, (url) => maskUrl(url));
  return urls.includes('?') ? urls.replace(QUERY_IN_TEXT, (whole, query: string) => `?${maskQuery(query, isSecretParam)}`) : urls;
}

/** Free text known to hold alert receivers' URLs (an audit change of an `alerts` object), each as maskAlertUrl shows it. */
export function maskAlertUrlsInText(text: string): string {
  return text.includes('://') ? text.replace(URL_IN_TEXT, (url) => maskAlertUrl(url)) : text;
}

/**
 * Parameters of a request's target that are secrets there, besides isSecretParam's: a sign-in's
 * callback carries the provider's authorization `code` and the sign-in's `state`.
 */
const SECRET_TARGET_PARAMS = new Set(['code', 'state']);

/** A request's target (`/path?query`) as a log may show it: the values of secret parameters masked. */
export function maskTarget(target: string | undefined): string | undefined {
  if (target === undefined) return undefined;
  const q = target.indexOf('?');
  const secret = (name: string): boolean => isSecretParam(name) || SECRET_TARGET_PARAMS.has(name.toLowerCase());
  return q === -1 ? target : `${target.slice(0, q + 1)}${maskQuery(target.slice(q + 1), secret)}`;
}
