/**
 * `auth.oidc` in the config: single sign-on for the dashboard with OpenID Connect (authorization code
 * with PKCE). Which identity provider, which client tsbeat is at it, where the provider sends the
 * browser back, and `roles`: one claim of the signed-in person (such as `groups`) whose values map to
 * grants in the tokens file's syntax (core/grants.ts), so that a person in `billing` gets
 * `operator@team=billing`.
 *
 * The client secret is never in the config: it is read at start from $BEAT_OIDC_CLIENT_SECRET or the
 * file `clientSecretFile` names (a mounted secret), and never logged. Without either the client is a
 * public one (PKCE alone), as some providers allow.
 *
 * Pure: nothing here contacts the provider; `beat run --http` does, at start (dashboard/oidc-sign-in.ts).
 */
import * as z from 'zod';
import { ENV } from '../base/env.js';
import { shown } from '../base/errors.js';
import { parseGrants } from '../core/grants.js';
import type { Grant } from '../core/grants.js';
import { keyed } from './key-spelling.js';

/** The path the provider sends the browser back to (the dashboard's route, dashboard/routes.ts). */
export const OIDC_CALLBACK_PATH = '/ui/callback';

/** What tsbeat asks for unless `scopes` says otherwise: the subject, and the e-mail the audit records. */
const DEFAULT_SCOPES = ['openid', 'email', 'profile'];

/**
 * A signed-in session's standing is asked of the provider again at most this often by default
 * (seconds): a revoked sign-in is refused within this long, and the page's refresh every few
 * seconds asks the provider about once per this, not at each request.
 */
const DEFAULT_RECHECK_SECONDS = 5;
/** The longest `recheckSeconds`: a revocation must not wait past a few minutes to take effect. */
const RECHECK_SECONDS_MAX = 300;

/** The error of a field: "is missing" when absent, else what it must be; both with the fix. */
function fieldError(key: string, must: string): (issue: { readonly input?: unknown }) => string {
  return (issue) => (issue.input === undefined ? `${key} is missing: it must be ${must}` : `${key} must be ${must}`);
}

/** A name that only ever means this machine: where plain http is as private as https (RFC 8252's loopback exception). */
function loopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** A URL that is https, or http on loopback; the problem otherwise. */
function urlProblem(text: string, what: string, example: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `${what} ${shown(text)} is not a URL; write one such as ${example}`;
  }
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && loopbackHost(url.hostname)) return undefined;
  return `${what} ${shown(text)} must be https:// (plain http only on localhost or 127.0.0.1): sign-in codes and tokens cross it`;
}

const issuerSchema = z
  .string({ error: fieldError('auth.oidc.issuer', 'the identity provider\'s issuer URL, such as "https://login.example.com/realms/acme"') })
  .superRefine((text, ctx) => {
    const problem = urlProblem(text, 'auth.oidc.issuer', '"https://login.example.com/realms/acme"');
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem, input: text });
  });

const redirectSchema = z
  .string({
    error: fieldError(
      'auth.oidc.redirectUrl',
      `this dashboard's ${OIDC_CALLBACK_PATH} as browsers reach it, such as "https://beat.example.com${OIDC_CALLBACK_PATH}"`,
    ),
  })
  .superRefine((text, ctx) => {
    const problem = urlProblem(text, 'auth.oidc.redirectUrl', `"https://beat.example.com${OIDC_CALLBACK_PATH}"`);
    if (problem !== undefined) {
      ctx.addIssue({ code: 'custom', message: problem, input: text });
      return;
    }
    const url = new URL(text);
    if (url.pathname !== OIDC_CALLBACK_PATH || url.search !== '' || url.hash !== '') {
      ctx.addIssue({
        code: 'custom',
        message: `auth.oidc.redirectUrl ${shown(text)} must end in ${OIDC_CALLBACK_PATH} (the dashboard's callback), with no query: such as "${url.origin}${OIDC_CALLBACK_PATH}"; register the same URL at the provider`,
        input: text,
      });
    }
  });

const scopesSchema = z
  .array(
    z.string({ error: 'auth.oidc.scopes: each scope is a word such as "openid" or "groups"' }).regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, {
      error: 'auth.oidc.scopes: each scope is one word of printable characters, without spaces or quotes',
    }),
    { error: 'auth.oidc.scopes must be a list of scopes, such as [openid, email, groups]' },
  )
  .superRefine((scopes, ctx) => {
    if (!scopes.includes('openid')) {
      ctx.addIssue({
        code: 'custom',
        message: `auth.oidc.scopes must include "openid" (without it the provider signs nobody in): [openid, ${scopes.join(', ')}]`,
        input: scopes,
      });
    }
  });

const rolesSchema = keyed({
  /** The claim of the ID token (or, when it is not there, of the userinfo) whose values are mapped: a list of strings or one string. */
  claim: z
    .string({ error: fieldError('auth.oidc.roles.claim', 'the claim whose values map to grants, such as "groups"') })
    .min(1, { error: 'auth.oidc.roles.claim must name the claim whose values map to grants, such as "groups"' }),
  /** A value of the claim → the grants it gives, as the tokens file writes them (`operator@team=billing;viewer`). */
  map: z
    .record(
      z.string(),
      z.string({ error: 'auth.oidc.roles.map: each value maps to grants written as in the tokens file, such as "operator@team=billing"' }),
      {
        error: fieldError(
          'auth.oidc.roles.map',
          'a mapping of each value of the claim to grants, such as {billing: "operator@team=billing"}',
        ),
      },
    )
    .superRefine((map, ctx) => {
      if (Object.keys(map).length === 0) {
        ctx.addIssue({
          code: 'custom',
          message:
            'auth.oidc.roles.map is empty: nobody who signs in could do anything; map a value of the claim, such as billing: operator@team=billing',
          input: map,
        });
      }
      for (const [value, text] of Object.entries(map)) {
        if (text.trim() === '') {
          ctx.addIssue({
            code: 'custom',
            path: [value],
            message: `auth.oidc.roles.map.${value} maps to nothing: give grants such as viewer or operator@team=${value}, or remove the line`,
            input: text,
          });
          continue;
        }
        const parsed = parseGrants(text);
        if (!parsed.ok)
          ctx.addIssue({ code: 'custom', path: [value], message: `auth.oidc.roles.map.${value}: ${parsed.problem}`, input: text });
      }
    }),
});

function recheckError(issue: { readonly input?: unknown }): string {
  return `auth.oidc.recheckSeconds must be a whole number of seconds from 0 (every request) to ${RECHECK_SECONDS_MAX}, got ${shown(String(issue.input))}; default ${DEFAULT_RECHECK_SECONDS}`;
}

/** `auth.oidc`. */
export const oidcSchema = keyed({
  /** The provider's issuer URL; its /.well-known/openid-configuration is read at start. */
  issuer: issuerSchema,
  /** The client id tsbeat is registered under at the provider. */
  clientId: z
    .string({ error: fieldError('auth.oidc.clientId', 'the client id tsbeat is registered under at the provider') })
    .min(1, { error: 'auth.oidc.clientId must be the client id tsbeat is registered under at the provider' }),
  /** A file holding the client secret (a mounted secret); $BEAT_OIDC_CLIENT_SECRET over it. Neither: a public client. */
  clientSecretFile: z
    .string({ error: 'auth.oidc.clientSecretFile must be the path of a file holding the client secret' })
    .min(1, { error: 'auth.oidc.clientSecretFile must be the path of a file holding the client secret' })
    .optional(),
  /** Named so that a secret written into the config is refused with where it goes instead (a config file is no place for it). */
  clientSecret: z
    .never({
      error: `auth.oidc.clientSecret: the client secret is never written in the config; put it in a file named by clientSecretFile (a mounted secret) or in $${ENV.oidcClientSecret}`,
    })
    .optional(),
  /** This dashboard's /ui/callback as browsers reach it (behind a proxy: the proxy's URL), registered at the provider. */
  redirectUrl: redirectSchema,
  /** The scopes asked for (default openid, email, profile); add the one that brings the roles' claim (often "groups"). */
  scopes: scopesSchema.default(DEFAULT_SCOPES),
  /**
   * How often (seconds, at most) a signed-in session is checked again at the provider (its userinfo,
   * with the session's access token), so that a sign-in revoked there is refused at the next request
   * after it; 0: at every request. Default 5, at most 300.
   */
  recheckSeconds: z
    .number({ error: recheckError })
    .int({ error: recheckError })
    .min(0, { error: recheckError })
    .max(RECHECK_SECONDS_MAX, { error: recheckError })
    .default(DEFAULT_RECHECK_SECONDS),
  /** The claim whose values give grants. */
  roles: z
    .custom<unknown>((value) => value !== undefined, {
      error:
        'auth.oidc.roles is missing: it must name the claim whose values give grants and map them, such as {claim: groups, map: {billing: "operator@team=billing"}}',
    })
    .pipe(rolesSchema),
});

/** `auth` in the config: how people sign in to the dashboard (API tokens stay on the command line). */
export const authSchema = keyed({ oidc: oidcSchema.optional() });

/** `auth.oidc` checked and its grants parsed: what the sign-in runs with. */
export interface OidcSettings {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecretFile?: string | undefined;
  readonly redirectUrl: string;
  readonly scopes: readonly string[];
  /** How often a signed-in session is checked again at the provider, seconds (0: at every request). */
  readonly recheckSeconds: number;
  readonly claim: string;
  /** Each value of the claim and the grants it gives. */
  readonly grantsOf: ReadonlyMap<string, readonly Grant[]>;
}

export function resolveOidc(parsed: z.output<typeof authSchema> | undefined): OidcSettings | undefined {
  const oidc = parsed?.oidc;
  if (oidc === undefined) return undefined;
  const grantsOf = new Map<string, readonly Grant[]>();
  for (const [value, text] of Object.entries(oidc.roles.map)) {
    const grants = parseGrants(text);
    // The schema refused every map value that does not parse.
    if (grants.ok) grantsOf.set(value, grants.grants);
  }
  return {
    issuer: oidc.issuer,
    clientId: oidc.clientId,
    ...(oidc.clientSecretFile === undefined ? {} : { clientSecretFile: oidc.clientSecretFile }),
    redirectUrl: oidc.redirectUrl,
    scopes: oidc.scopes,
    recheckSeconds: oidc.recheckSeconds,
    claim: oidc.roles.claim,
    grantsOf,
  };
}

/**
 * The grants a signed-in person holds: those of every value of their claim that the map names, in
 * the claim's order, without repeats. `values` is the claim as the provider gave it (a list, one
 * string, or absent).
 */
export function grantsOfClaim(settings: Pick<OidcSettings, 'grantsOf'>, values: unknown): { grants: Grant[]; values: string[] } {
  const list =
    typeof values === 'string' ? [values] : Array.isArray(values) ? values.filter((v): v is string => typeof v === 'string') : [];
  const grants: Grant[] = [];
  for (const value of list) {
    for (const grant of settings.grantsOf.get(value) ?? []) if (!grants.some((g) => g.text === grant.text)) grants.push(grant);
  }
  return { grants, values: list };
}
