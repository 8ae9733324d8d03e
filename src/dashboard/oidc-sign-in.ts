/**
 * Single sign-on for the dashboard with OpenID Connect (`auth.oidc`, config/oidc-schema.ts): the
 * authorization code flow with PKCE, state and nonce, through openid-client (its public API only).
 *
 * `GET /ui/sign-in` makes a PKCE verifier, a state and a nonce, keeps them here for
 * SIGN_IN_WINDOW_MS under the state, names the state in a short cookie of its own (SameSite=Lax: the
 * provider's redirect back is a cross-site navigation, which a Strict cookie would not follow) and
 * sends the browser to the provider. `GET /ui/callback` takes the state back once (the cookie's and
 * the query's must agree), has openid-client exchange the code (checking state, nonce, PKCE and the ID
 * token's signature, issuer, audience and expiry), maps the roles' claim to grants, and hands the
 * routes the session's holder: `sso:<subject> <e-mail>`, the grants, and the sign-in's own end (exp),
 * with the access token, which the session keeps server-side to ask the provider again (standing:
 * its userinfo with that token) whether the sign-in still stands: a provider revokes a sign-in by
 * the token (its revocation endpoint, a session ended there), not by the ID token's exp.
 *
 * openid-client is imported when a deployment configures auth.oidc, never by the CLI's other starts.
 * The provider is read (discovery) at start, and `beat run` refuses to start when it cannot be: a
 * dashboard that nobody can sign in to is a configuration to fix, not to run with. Afterwards an
 * outage refuses sign-ins (503, saying that API tokens still work) and a later sign-in tries again.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type * as OpenId from 'openid-client';
import { ConfigError, ErrorCode, errorMessage, shown } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { ENV } from '../base/env.js';
import { grantsText } from '../core/grants.js';
import type { Grant } from '../core/grants.js';
import { grantsOfClaim } from '../config/oidc-schema.js';
import type { OidcSettings } from '../config/oidc-schema.js';
import { ApiError } from '../http/failures.js';
import type { SessionHolder, Standing } from './sessions.js';

/** How long a sign-in may take at the provider (typing a password, a second factor) before its state is forgotten. */
const SIGN_IN_WINDOW_MS = 10 * 60_000;
/** Most sign-ins under way at once: a flood of /ui/sign-in cannot grow the map without end (the oldest goes). */
const MAX_PENDING = 10_000;
/** A request to the provider (discovery, the code's exchange, userinfo) that takes longer is an outage. */
const PROVIDER_TIMEOUT_S = 10;

export const SIGN_IN_COOKIE = 'tsbeat_sign_in';

type Client = typeof OpenId;

interface Pending {
  readonly verifier: string;
  readonly nonce: string;
  readonly expiresMs: number;
}

/** What a provider's configuration was discovered for: another (a reload changed auth.oidc) is discovered again. */
function providerKey(settings: OidcSettings): string {
  return JSON.stringify([settings.issuer, settings.clientId, settings.clientSecretFile ?? null]);
}

/** A failure to reach the provider (no answer, refused, timed out), as opposed to its refusal. */
function unreachable(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e.name === 'TimeoutError' || e.name === 'AbortError' || (e instanceof TypeError && /fetch failed/i.test(e.message))) return true;
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^(ECONN|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|UND_ERR)/.test(code)) return true;
  }
  return false;
}

function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** A sign-in done: the session's holder, and the access token its standing is asked again with (never sent on, never logged). */
export interface SignedIn {
  readonly holder: SessionHolder;
  readonly accessToken: string;
}

export interface OidcSignInOptions {
  /** auth.oidc as the config in force has it (a reload can change the roles, or the provider). */
  readonly settings: () => OidcSettings | undefined;
  /** Where the config came from, for the refusal at start (`schedules/x.yaml: auth.oidc.issuer …`). */
  readonly source: string;
  /** $BEAT_OIDC_CLIENT_SECRET, if set (over auth.oidc.clientSecretFile). */
  readonly secretFromEnv: string | undefined;
  readonly now: () => number;
  readonly logger: Logger;
}

export class OidcSignIn {
  private readonly pending = new Map<string, Pending>();
  private provider: { readonly key: string; readonly configuration: Promise<OpenId.Configuration> } | undefined;

  private constructor(
    private readonly client: Client,
    private readonly options: OidcSignInOptions,
  ) {}

  /**
   * Loads openid-client and reads the provider's configuration: a ConfigError (exit 2) naming
   * auth.oidc.issuer (or clientSecretFile) and the fix when it cannot.
   */
  static async start(options: OidcSignInOptions): Promise<OidcSignIn> {
    const client = await import('openid-client');
    const signIn = new OidcSignIn(client, options);
    const settings = options.settings();
    if (settings !== undefined) {
      try {
        await signIn.configuration(settings);
      } catch (error) {
        if (error instanceof ApiError) throw new ConfigError(options.source, [{ path: refusalPath(error), message: error.message }]);
        throw error;
      }
    }
    return signIn;
  }

  /** Whether sign-in is configured now (a reload may add or remove auth.oidc). */
  configured(): boolean {
    return this.options.settings() !== undefined;
  }

  /** `GET /ui/sign-in`: where to send the browser, and the cookie that names this sign-in's state. */
  async begin(secure: boolean): Promise<{ location: string; cookie: string }> {
    const settings = this.required();
    const configuration = await this.configuration(settings);
    const { client } = this;
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const nowMs = this.options.now();
    this.sweep(nowMs);
    if (this.pending.size >= MAX_PENDING) {
      const oldest = this.pending.keys().next().value;
      if (oldest !== undefined) this.pending.delete(oldest);
    }
    this.pending.set(state, { verifier, nonce, expiresMs: nowMs + SIGN_IN_WINDOW_MS });
    const location = client.buildAuthorizationUrl(configuration, {
      redirect_uri: settings.redirectUrl,
      scope: settings.scopes.join(' '),
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const cookie = `${SIGN_IN_COOKIE}=${state}; Path=/ui/callback; HttpOnly; SameSite=Lax; Max-Age=${SIGN_IN_WINDOW_MS / 1000}${secure ? '; Secure' : ''}`;
    return { location: location.href, cookie };
  }

  /** The cookie that forgets a sign-in's state (set with every answer of the callback). */
  static clearCookie(): string {
    return `${SIGN_IN_COOKIE}=; Path=/ui/callback; HttpOnly; SameSite=Lax; Max-Age=0`;
  }

  /**
   * `GET /ui/callback?code=…&state=…`: the person signed in, with their grants; an ApiError when the
   * state is unknown or used, the provider refused or cannot be reached, or no value of the claim
   * maps to a grant.
   */
  async finish(req: IncomingMessage, query: URLSearchParams): Promise<SignedIn> {
    const settings = this.required();
    const state = query.get('state');
    const cookie = cookieValue(req, SIGN_IN_COOKIE);
    if (state === null || cookie === undefined || cookie !== state) {
      throw new ApiError(
        ErrorCode.SignInState,
        'this sign-in was not started by this browser (or its cookie expired): start again at /ui/sign-in',
      );
    }
    const pending = this.pending.get(state);
    // One use: a replayed callback URL finds nothing.
    this.pending.delete(state);
    if (pending === undefined || pending.expiresMs <= this.options.now()) {
      throw new ApiError(
        ErrorCode.SignInState,
        'this sign-in is unknown, used or too old (or this replica restarted): start again at /ui/sign-in',
      );
    }
    const configuration = await this.configuration(settings);
    const { client } = this;
    // The URL the provider sent the browser to, as it names it (behind a proxy: the proxy's).
    const current = new URL(settings.redirectUrl);
    current.search = query.toString();
    let tokens: Awaited<ReturnType<Client['authorizationCodeGrant']>>;
    try {
      tokens = await client.authorizationCodeGrant(configuration, current, {
        pkceCodeVerifier: pending.verifier,
        expectedState: state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
    } catch (error) {
      throw this.failure(settings, error, 'the sign-in was refused');
    }
    const claims = tokens.claims();
    if (claims === undefined)
      throw new ApiError(ErrorCode.SignInFailed, 'the identity provider answered without an ID token: sign-in refused');
    const subject = claims.sub;
    let email = typeof claims['email'] === 'string' ? claims['email'] : undefined;
    let values = claims[settings.claim];
    if (values === undefined || email === undefined) {
      // Many providers put groups (and the e-mail) in the userinfo only, unless asked for in the ID token.
      try {
        const info = await client.fetchUserInfo(configuration, tokens.access_token, subject);
        values ??= info[settings.claim];
        email ??= typeof info.email === 'string' ? info.email : undefined;
      } catch (error) {
        throw this.failure(settings, error, 'the userinfo was refused');
      }
    }
    const who = email === undefined ? `sso:${subject}` : `sso:${subject} <${email}>`;
    const mapped = grantsOfClaim(settings, values);
    if (mapped.grants.length === 0) {
      this.options.logger.warn(
        { event: EVENTS.dashboardSignIn, ok: false, who, claim: settings.claim, values: mapped.values, client: req.socket.remoteAddress },
        `sign-in refused: ${who} holds no value of ${settings.claim} that auth.oidc.roles.map names`,
      );
      throw new ApiError(
        ErrorCode.SignInNoGrants,
        `signed in as ${who}, but ${settings.claim} (${mapped.values.length === 0 ? 'none given' : mapped.values.join(', ')}) maps to no grant in auth.oidc.roles.map: ask whoever runs tsbeat to map one of them (they map ${[...settings.grantsOf.keys()].join(', ')})`,
      );
    }
    const notAfterMs = typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
    this.options.logger.info(
      { event: EVENTS.dashboardSignIn, ok: true, who, grants: grantsText(mapped.grants), client: req.socket.remoteAddress },
      `signed in: ${who} (${grantsText(mapped.grants)})`,
    );
    return {
      holder: {
        who,
        identity: { subject, ...(email === undefined ? {} : { email }) },
        claims: { values: mapped.values },
        ...(notAfterMs === undefined ? {} : { notAfterMs }),
      },
      accessToken: tokens.access_token,
    };
  }

  /**
   * The grants a person's claim values map to now (auth.oidc.roles of the config in force): a
   * reload that narrows the mapping narrows their session at its next request. Undefined when
   * sign-on is no longer configured or the values map to nothing (the session then ends).
   */
  grantsNow(values: readonly string[]): readonly Grant[] | undefined {
    const settings = this.options.settings();
    if (settings === undefined) return undefined;
    const { grants } = grantsOfClaim(settings, values);
    return grants.length === 0 ? undefined : grants;
  }

  /** How often a signed-in session's standing is asked again (auth.oidc.recheckSeconds, ms; 0: at every request). */
  recheckMs(): number {
    return (this.options.settings()?.recheckSeconds ?? 0) * 1000;
  }

  /**
   * Whether the provider still stands by a sign-in: its userinfo asked with the session's access
   * token. An answer that refuses the token (401 invalid_token once revoked or expired, any other
   * refusal, another subject) is `revoked`; no answer, the provider's own failure (5xx), or its
   * "not now" (429 Too Many Requests from a rate limit, 408) is `unreachable` (logged as at
   * sign-in), which keeps the session, unable to write, until it answers: a busy provider must not
   * sign everyone out. Sign-on removed from the config by a reload ends every signed-in session.
   */
  async standing(holder: SessionHolder, accessToken: string): Promise<Standing> {
    const settings = this.options.settings();
    const subject = holder.identity?.subject;
    if (settings === undefined || subject === undefined) {
      this.revoked(holder, 'single sign-on is no longer configured (auth.oidc)');
      return 'revoked';
    }
    try {
      const configuration = await this.configuration(settings);
      const info = await this.client.fetchUserInfo(configuration, accessToken, subject);
      // The claim as the provider says it now (a group left there narrows the session); a provider
      // that gives it in the ID token only keeps the sign-in's values.
      if (holder.claims !== undefined && info[settings.claim] !== undefined)
        holder.claims.values = grantsOfClaim(settings, info[settings.claim]).values;
      return 'valid';
    } catch (error) {
      // The provider's configuration could not be had (discovery failed, logged there): nothing was asked.
      if (error instanceof ApiError) return 'unreachable';
      const status = this.statusOf(error);
      if (unreachable(error) || (status !== undefined && (status >= 500 || status === 429 || status === 408))) {
        this.unreachableLogged(settings, errorMessage(error), 'signed-in sessions may read but not write');
        return 'unreachable';
      }
      this.revoked(holder, errorMessage(error));
      return 'revoked';
    }
  }

  /** The HTTP status of the provider's answer an error of openid-client reports, if it reports one. */
  private statusOf(error: unknown): number | undefined {
    const { ResponseBodyError, WWWAuthenticateChallengeError } = this.client;
    if (error instanceof ResponseBodyError || error instanceof WWWAuthenticateChallengeError) return error.status;
    // An answer that is no OAuth error (a gateway's text page) is reported with the Response as its cause.
    const cause = error instanceof Error ? error.cause : undefined;
    return cause instanceof Response ? cause.status : undefined;
  }

  private revoked(holder: SessionHolder, reason: string): void {
    this.options.logger.info(
      { event: EVENTS.dashboardSignInRevoked, who: holder.who, reason },
      `signed out: the identity provider no longer stands by the sign-in of ${holder.who} (${reason})`,
    );
  }

  private required(): OidcSettings {
    const settings = this.options.settings();
    if (settings === undefined)
      throw new ApiError(ErrorCode.SsoOff, 'single sign-on is not configured (auth.oidc in the config): log in with an API token');
    return settings;
  }

  /** The provider's configuration, discovered once per provider; a failed discovery is not kept (the next sign-in tries again). */
  private configuration(settings: OidcSettings): Promise<OpenId.Configuration> {
    const key = providerKey(settings);
    if (this.provider?.key === key) return this.provider.configuration;
    const configuration = this.discover(settings);
    configuration.catch(() => {
      if (this.provider?.configuration === configuration) this.provider = undefined;
    });
    this.provider = { key, configuration };
    return configuration;
  }

  private async discover(settings: OidcSettings): Promise<OpenId.Configuration> {
    const { client } = this;
    const secret = await this.secret(settings);
    const issuer = new URL(settings.issuer);
    let configuration: OpenId.Configuration;
    try {
      configuration = await client.discovery(
        issuer,
        settings.clientId,
        // The secret goes only into the client's authentication (never the metadata a log could print).
        undefined,
        secret === undefined ? client.None() : client.ClientSecretBasic(secret),
        {
          timeout: PROVIDER_TIMEOUT_S,
          // Plain http is accepted by the config only for a loopback issuer (oidc-schema.ts).
          // eslint-disable-next-line @typescript-eslint/no-deprecated -- deprecated only to stand out: for a loopback issuer, as here
          ...(issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : {}),
        },
      );
    } catch (error) {
      throw this.failure(settings, error, 'its configuration could not be read');
    }
    // A signed-in session is asked after at its userinfo endpoint (standing): without one, every
    // sign-in would end at its first recheck. Refused here, so at start (exit 2), not at sign-in.
    if (configuration.serverMetadata().userinfo_endpoint === undefined)
      throw new ApiError(
        ErrorCode.SignInFailed,
        `auth.oidc.issuer ${shown(settings.issuer)} publishes no userinfo_endpoint in its configuration (${settings.issuer.replace(/\/$/, '')}/.well-known/openid-configuration): tsbeat asks it every auth.oidc.recheckSeconds whether a sign-in still stands; enable the provider's UserInfo endpoint for this client`,
      );
    return configuration;
  }

  private async secret(settings: OidcSettings): Promise<string | undefined> {
    if (this.options.secretFromEnv !== undefined && this.options.secretFromEnv !== '') return this.options.secretFromEnv.trim();
    if (settings.clientSecretFile === undefined) return undefined;
    let text: string;
    try {
      text = await readFile(settings.clientSecretFile, 'utf8');
    } catch (error) {
      throw new ApiError(
        ErrorCode.SsoSecret,
        `auth.oidc.clientSecretFile ${shown(settings.clientSecretFile)} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}): mount the client secret there, or set $${ENV.oidcClientSecret}`,
      );
    }
    const secret = text.trim();
    if (secret === '')
      throw new ApiError(
        ErrorCode.SsoSecret,
        `auth.oidc.clientSecretFile ${shown(settings.clientSecretFile)} is empty: put the client secret in it`,
      );
    return secret;
  }

  /** The refusal of a failed request to the provider: 503 when it cannot be reached (logged), else the provider's refusal. */
  private failure(settings: OidcSettings, error: unknown, what: string): ApiError {
    if (error instanceof ApiError) return error;
    // openid-client's messages name the provider's error and the check that failed; never the secret.
    const reason = errorMessage(error);
    if (unreachable(error)) {
      this.unreachableLogged(settings, reason, 'sign-ins are refused');
      return new ApiError(
        ErrorCode.SignInUnreachable,
        `auth.oidc.issuer ${shown(settings.issuer)} cannot be reached (${reason}): sign-in is refused until it answers (API tokens still work); check the URL and that the provider is up`,
      );
    }
    return new ApiError(ErrorCode.SignInFailed, `auth.oidc.issuer ${shown(settings.issuer)}: ${what}: ${reason}`);
  }

  private unreachableLogged(settings: OidcSettings, reason: string, meanwhile: string): void {
    this.options.logger.warn(
      { event: EVENTS.dashboardIssuerUnreachable, issuer: settings.issuer, reason },
      `the identity provider ${settings.issuer} cannot be reached: ${meanwhile}, API tokens still work`,
    );
  }

  private sweep(nowMs: number): void {
    for (const [state, p] of this.pending) if (p.expiresMs <= nowMs) this.pending.delete(state);
  }
}

/** The setting a refusal at start is about. */
function refusalPath(refusal: ApiError): string {
  return refusal.code === ErrorCode.SsoSecret ? 'auth.oidc.clientSecretFile' : 'auth.oidc.issuer';
}
