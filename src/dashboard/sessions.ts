/**
 * The dashboard's logins: the API token typed once into the login form, or a single sign-on
 * (oidc-sign-in.ts), buys a session held in this process's memory (a random id in an HttpOnly,
 * SameSite=Strict cookie) with its own CSRF token, which every write must send back in a header.
 * Sessions expire when unused, and a signed-in person's also when their sign-in does (the ID token's
 * exp) or when the provider no longer stands by it (a revoked access token, a session ended there):
 * the standing is asked again at most every auth.oidc.recheckSeconds (recheck). A restart forgets
 * them (log in again). Nothing here is stored in Redis: each replica has its own.
 */
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Grant } from '../core/grants.js';

export const SESSION_COOKIE = 'tsbeat_session';
export const CSRF_HEADER = 'x-csrf-token';

/** Who holds a session, and what its grants are decided on each time it is used. */
export interface SessionHolder {
  /** As the logs (and the audit) name them: `dashboard:<token name>`, or a person's `sso:<subject> <e-mail>`. */
  readonly who: string;
  /** A signed-in person's subject at the identity provider and e-mail (when it gave one). */
  readonly identity?: { readonly subject: string; readonly email?: string | undefined };
  /**
   * A token's session: the SHA-256 (hex) of the token it was opened with, never the token. Its
   * grants are that token's as the tokens file says now; a token removed or rotated (its name
   * given another secret) ends the session.
   */
  readonly tokenDigest?: string;
  /**
   * A signed-in person's values of the claim auth.oidc.roles maps (`groups`), as the sign-in gave
   * them and each recheck's userinfo renews them: their grants are the mapping's of now, so that a
   * reload that narrows it, or the person leaving a group at the provider, narrows the session.
   */
  readonly claims?: { values: readonly string[] };
  /** Grants given outright (a session no token nor claim decides: tests'). */
  readonly grants?: readonly Grant[];
  /** When the sign-in itself ends (the ID token's exp, ms): the session is refused from then, used or not. */
  readonly notAfterMs?: number;
}

/** What the identity provider answers of a sign-in when asked again (oidc-sign-in.ts). */
export type Standing = 'valid' | 'revoked' | 'unreachable';

/**
 * A signed-in person's standing at the provider: the access token it is asked with (held here,
 * server-side: never in a cookie, an answer or a log), when it was last asked, and whether that
 * answer was an outage (the session then may read but not write until the provider answers).
 */
interface ProviderStanding {
  readonly accessToken: string;
  checkedMs: number;
  unverified: boolean;
  /** The question in flight: requests that come meanwhile wait for its answer rather than ask again. */
  asking?: Promise<void> | undefined;
}

interface Session {
  readonly csrf: string;
  readonly holder: SessionHolder;
  expiresMs: number;
  readonly standing?: ProviderStanding;
}

/** A live session as a request finds it. */
export interface FoundSession {
  readonly id: string;
  readonly csrf: string;
  readonly holder: SessionHolder;
  /** The provider could not be reached at its last recheck: reads go on, writes wait for it (503). */
  readonly unverified: boolean;
}

/** The SHA-256 (hex) of a token, which a token's session keeps in its stead. */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Compared as SHA-256 digests: equal lengths for timingSafeEqual, and no length leaked. */
export function tokensEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export class Sessions {
  private readonly held = new Map<string, Session>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxSessions: number,
    private readonly now: () => number,
  ) {}

  /**
   * Opens a session; returns the Set-Cookie value and the CSRF token. `accessToken`: a signed-in
   * person's, with which recheck asks the provider whether the sign-in still stands.
   */
  open(secure: boolean, holder: SessionHolder = { who: 'dashboard' }, accessToken?: string): { cookie: string; csrf: string } {
    this.sweep();
    if (this.held.size >= this.maxSessions) {
      // The oldest goes: a flood of logins (each needs the token) cannot grow the map without end.
      const oldest = this.held.keys().next().value;
      if (oldest !== undefined) this.held.delete(oldest);
    }
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(32).toString('base64url');
    const nowMs = this.now();
    this.held.set(id, {
      csrf,
      holder,
      expiresMs: nowMs + this.ttlMs,
      ...(accessToken === undefined ? {} : { standing: { accessToken, checkedMs: nowMs, unverified: false } }),
    });
    const lastMs = Math.min(this.ttlMs, (holder.notAfterMs ?? Infinity) - nowMs);
    const maxAge = Math.max(0, Math.floor(lastMs / 1000));
    const cookie = `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? '; Secure' : ''}`;
    return { cookie, csrf };
  }

  /** The request's live session, if any (and its expiry moved on: the session slides while used). */
  find(req: IncomingMessage): FoundSession | undefined {
    const id = cookieValue(req, SESSION_COOKIE);
    if (id === undefined) return undefined;
    const session = this.held.get(id);
    if (session === undefined) return undefined;
    const nowMs = this.now();
    if (ended(session, nowMs)) {
      this.held.delete(id);
      return undefined;
    }
    session.expiresMs = nowMs + this.ttlMs;
    return { id, csrf: session.csrf, holder: session.holder, unverified: session.standing?.unverified === true };
  }

  /**
   * Asks the provider again whether the request's signed-in session still stands, when its last
   * answer is `everyMs` old or more (0: at every request), so that the page's polling does not ask
   * at each refresh. Revoked: the session ends, as at sign-out, before the request is answered.
   * Unreachable: it is kept, unverified (writes refused) until an answer, asked again after `everyMs`.
   */
  async recheck(
    req: IncomingMessage,
    everyMs: number,
    ask: (holder: SessionHolder, accessToken: string) => Promise<Standing>,
  ): Promise<void> {
    const id = cookieValue(req, SESSION_COOKIE);
    const session = id === undefined ? undefined : this.held.get(id);
    const standing = session?.standing;
    if (id === undefined || session === undefined || standing === undefined) return;
    if (standing.asking !== undefined) return standing.asking;
    if (everyMs > 0 && this.now() - standing.checkedMs < everyMs) return;
    const asking = ask(session.holder, standing.accessToken).then((answer) => {
      if (answer === 'revoked') {
        this.held.delete(id);
        return;
      }
      standing.checkedMs = this.now();
      standing.unverified = answer === 'unreachable';
    });
    standing.asking = asking.finally(() => {
      standing.asking = undefined;
    });
    return standing.asking;
  }

  /** Ends the session `id` (its credential is gone): its cookie is refused from then on. */
  end(id: string): void {
    this.held.delete(id);
  }

  close(req: IncomingMessage): string {
    const id = cookieValue(req, SESSION_COOKIE);
    if (id !== undefined) this.held.delete(id);
    return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
  }

  /** A write is allowed with a live session whose CSRF token the request sends back. */
  authorizes(req: IncomingMessage): boolean {
    const session = this.find(req);
    const sent = req.headers[CSRF_HEADER];
    return session !== undefined && typeof sent === 'string' && tokensEqual(sent, session.csrf);
  }

  private sweep(): void {
    const nowMs = this.now();
    for (const [id, session] of this.held) if (ended(session, nowMs)) this.held.delete(id);
  }
}

/** Unused too long, or past its sign-in's own end. */
function ended(session: Session, nowMs: number): boolean {
  return session.expiresMs <= nowMs || (session.holder.notAfterMs !== undefined && session.holder.notAfterMs <= nowMs);
}

/**
 * The Origin check of a write: a browser sends Origin on every POST, PUT and DELETE; it must be
 * this server's own (scheme and host as the request names them). Absent (a non-browser client
 * holding the session cookie and CSRF token) passes: the CSRF token is the check that counts.
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  const host = req.headers.host;
  if (host === undefined) return false;
  return origin === `http://${host}` || origin === `https://${host}`;
}
