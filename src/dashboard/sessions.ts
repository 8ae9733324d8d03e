/**
 * The dashboard's logins: the API token typed once into the login form, or a single sign-on
 * (oidc-sign-in.ts), buys a session held in this process's memory (a random id in an HttpOnly,
 * SameSite=Strict cookie) with its own CSRF token, which every write must send back in a header.
 * Sessions expire when unused, and a signed-in person's also when their sign-in does (the ID token's
 * exp); a restart forgets them (log in again). Nothing here is stored in Redis: each replica has its own.
 */
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Grant } from '../core/grants.js';

export const SESSION_COOKIE = 'tsbeat_session';
export const CSRF_HEADER = 'x-csrf-token';

/** Who holds a session. */
export interface SessionHolder {
  /** As the logs (and the audit) name them: `dashboard:<token name>`, or a person's `sso:<subject> <e-mail>`. */
  readonly who: string;
  /** A signed-in person's subject at the identity provider and e-mail (when it gave one). */
  readonly identity?: { readonly subject: string; readonly email?: string | undefined };
  /** A signed-in person's grants, from the claim mapping (auth.oidc.roles); a token's session has the token's. */
  readonly grants?: readonly Grant[];
  /** When the sign-in itself ends (the ID token's exp, ms): the session is refused from then, used or not. */
  readonly notAfterMs?: number;
}

interface Session {
  readonly csrf: string;
  readonly holder: SessionHolder;
  expiresMs: number;
}

/** A live session as a request finds it. */
export interface FoundSession {
  readonly id: string;
  readonly csrf: string;
  readonly holder: SessionHolder;
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

  /** Opens a session; returns the Set-Cookie value and the CSRF token. */
  open(secure: boolean, holder: SessionHolder = { who: 'dashboard' }): { cookie: string; csrf: string } {
    this.sweep();
    if (this.held.size >= this.maxSessions) {
      // The oldest goes: a flood of logins (each needs the token) cannot grow the map without end.
      const oldest = this.held.keys().next().value;
      if (oldest !== undefined) this.held.delete(oldest);
    }
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(32).toString('base64url');
    const nowMs = this.now();
    this.held.set(id, { csrf, holder, expiresMs: nowMs + this.ttlMs });
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
    return { id, csrf: session.csrf, holder: session.holder };
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
