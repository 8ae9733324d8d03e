/**
 * Single sign-on for the dashboard (auth.oidc) against a real OpenID provider (the npm package
 * oidc-provider, started here on loopback on its own port) and a real `beat run --http` on a private
 * redis-server, the whole sign-in in a real headless Chromium (Debian's, driven by playwright-core):
 * a person in group `billing` signs in at the provider, comes back to the dashboard with the grants
 * `billing` maps to, pauses a billing entry (audited under their subject and e-mail, and shown so, with
 * the grant, on the Audit tab filtered by who), signs out, and the cookie they held is refused
 * afterwards. The dashboard's reads show a signed-in person only the entries their grants may read,
 * and the cookie sent beside another scheme's Authorization header is no session. A sign-in ended at the provider (the person signs out there, which revokes the access
 * token) is refused at the session's next request. Then an outage of the provider: sign-ins refused
 * (503), a signed-in session's writes refused (503) and its reads answered, bearer tokens still
 * answered, as while the provider's userinfo answers 429 (a rate limit: no one is signed out); and a
 * provider that cannot be reached at start, or has no userinfo endpoint: `beat run` exits 2 naming
 * auth.oidc.issuer.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { Redis } from 'ioredis';
import Provider from 'oidc-provider';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import type { PrivateRedis } from '../support/redis-server.js';
import { freePort } from '../support/redis-server.js';
import { startPrivateRedis, uniqueName } from '../support/ops.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'dashboard-sso-token-0123456789';
const CLIENT_SECRET = 'dashboard-sso-client-secret-0123456789';
/** The provider's people and their groups. */
const GROUPS: Record<string, string[]> = { alice: ['billing', 'staff'], mallory: ['nobody-maps-this'] };

describe.skipIf(!existsSync(CHROMIUM))(
  'single sign-on for the dashboard (a real OpenID provider, headless Chromium, real beat run)',
  () => {
    const fleet = new BeatFleet();
    const dir = new TempDir();
    let server: PrivateRedis;
    let redis: Redis;
    let beat: BeatProcess;
    let browser: Browser;
    let idp: Server;
    let issuer: string;
    let base: string;
    let name: string;
    let configFile: string;

    /** While true, the provider's userinfo answers 429, as a rate limit in front of it does. */
    let userinfoThrottled = false;

    function startIdp(port: number, beatPort: number, options: { userinfo?: boolean } = {}): Promise<Server> {
      const provider = new Provider(`http://127.0.0.1:${port}`, {
        clients: [
          {
            client_id: 'tsbeat',
            client_secret: CLIENT_SECRET,
            redirect_uris: [`http://127.0.0.1:${beatPort}/ui/callback`],
            grant_types: ['authorization_code'],
            response_types: ['code'],
          },
        ],
        claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
        findAccount: (_ctx, sub) => ({
          accountId: sub,
          claims: () => ({ sub, email: `${sub}@example.com`, email_verified: true, groups: GROUPS[sub] ?? [] }),
        }),
        cookies: { keys: ['dashboard-sso-test-cookie-key'] },
        // Signing out at the provider (its end_session page) revokes the grant and its tokens, as a provider's logout does.
        features: { rpInitiatedLogout: { enabled: true }, userinfo: { enabled: options.userinfo ?? true } },
        // Minutes, as a provider gives: the test of an expired sign-in is the sessions' unit test.
        ttl: { IdToken: 600, AccessToken: 600, Session: 600, Interaction: 600, Grant: 600 },
      });
      provider.use(async (ctx, next) => {
        if (userinfoThrottled && ctx.path === '/me') {
          ctx.status = 429;
          ctx.set('retry-after', '1');
          ctx.body = 'Too Many Requests';
          return;
        }
        await next();
      });
      return new Promise((resolve) => {
        const listening = provider.listen(port, '127.0.0.1', () => resolve(listening));
      });
    }

    beforeAll(async () => {
      server = await startPrivateRedis();
      redis = new Redis(server.url(0));
      name = uniqueName('dash-sso');
      const [idpPort, beatPort] = [await freePort(), await freePort()];
      issuer = `http://127.0.0.1:${idpPort}`;
      idp = await startIdp(idpPort, beatPort);
      const secretFile = dir.write('client-secret', CLIENT_SECRET);
      configFile = dir.write(`${name}.json`, {
        name,
        broker: { url: server.url(0) },
        maxInterval: '200ms',
        lock: FAST_LOCK,
        auth: {
          oidc: {
            issuer,
            clientId: 'tsbeat',
            clientSecretFile: secretFile,
            redirectUrl: `http://127.0.0.1:${beatPort}/ui/callback`,
            scopes: ['openid', 'email', 'groups'],
            roles: { claim: 'groups', map: { billing: 'operator@team=billing', admins: 'admin' } },
            // At every request: the test of "the next request" (the interval is the sessions' unit test).
            recheckSeconds: 0,
          },
        },
        beatSchedule: {
          'billing-report': { task: 't.billing', schedule: 3600, labels: { team: 'billing' } },
          'ops-cleanup': { task: 't.ops', schedule: 3600, labels: { team: 'ops' } },
        },
      });
      beat = fleet.spawn({
        config: configFile,
        label: 'dashboard-sso',
        // Loopback not trusted as such (a proxy's case): a browser signed out sees no entries, as one from another host.
        args: ['--http', `127.0.0.1:${beatPort}`, '--http-not-loopback', '127.0.0.1'],
        env: { BEAT_API_TOKEN: TOKEN },
      });
      await beat.waitForEvent(EVENTS.lockAcquired, 15_000);
      base = `http://127.0.0.1:${beatPort}`;
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      await fleet.killAll();
      idp?.closeAllConnections();
      await new Promise<void>((resolve) => (idp === undefined ? resolve() : idp.close(() => resolve())));
      redis?.disconnect();
      await server?.stop();
      dir.remove();
    });

    /** Signs `login` in from the dashboard's Sign in link, through the provider's own login and consent pages: the page, signed in. */
    async function signIn(context: BrowserContext, login: string): Promise<Page> {
      const page = await context.newPage();
      await page.goto(`${base}/`);
      await page.getByRole('link', { name: 'Sign in' }).waitFor({ timeout: 15_000 });
      await page.getByRole('link', { name: 'Sign in' }).click();
      await page.waitForURL(`${issuer}/**`, { timeout: 10_000 });
      await page.fill('input[name="login"]', login);
      await page.fill('input[name="password"]', 'anything');
      await page.click('button[type="submit"]');
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.waitForURL(`${base}/ui/`, { timeout: 10_000 });
      await page.getByRole('button', { name: 'Log out' }).waitFor({ timeout: 10_000 });
      return page;
    }

    /** The page's own fetch of `path` with its session (and CSRF token for a write): the status and body. */
    function fetchIn(page: Page, path: string, method = 'GET', csrf = '') {
      return page.evaluate(
        async ([p, m, token]) => {
          const reply = await fetch(p!, { method: m, headers: m === 'GET' ? {} : { 'x-csrf-token': token! } });
          return { status: reply.status, body: (await reply.json()) as { code?: string; error?: string } };
        },
        [path, method, csrf],
      );
    }

    it('a person in group billing signs in at the provider, acts with the grants billing maps to, signs out; the old cookie is refused', async () => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const signedOut = await context.newPage();
      await signedOut.goto(`${base}/`);
      // Signed out: the token's form and the sign-in link (from the open /ui/session), and no entry shown.
      await signedOut.getByRole('link', { name: 'Sign in' }).waitFor({ timeout: 15_000 });
      expect(await signedOut.locator('input[name="token"]').count()).toBe(1);
      expect(await signedOut.locator('tr[data-entry]').count()).toBe(0);
      await signedOut.close();
      // The provider's own login and consent pages, then back at the dashboard, signed in.
      const page = await signIn(context, 'alice');
      expect(await page.locator('#session .who').innerText()).toBe('sso:alice <alice@example.com>');
      await page.locator('tr[data-entry="billing-report"]').waitFor({ timeout: 10_000 });

      const cookies = await context.cookies(base);
      const session = cookies.find((c) => c.name === 'tsbeat_session');
      expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
      // The sign-in's own cookie is gone once used.
      expect(cookies.find((c) => c.name === 'tsbeat_sign_in')).toBeUndefined();

      // The session carries the grants billing maps to, and a write from the page is audited under the person.
      const overview = await page.evaluate(async () => (await fetch('/ui/api/overview')).json() as Promise<Record<string, unknown>>);
      expect(overview).toMatchObject({ actions: 'on', who: 'sso:alice <alice@example.com>', grants: 'operator@team=billing' });
      const csrf = overview['csrf'] as string;
      // The page's actions are /api's, decided on the person's grants: billing's entry, not ops's.
      const pause = (entry: string) =>
        page.evaluate(
          async ([path, token]) => {
            const reply = await fetch(path!, { method: 'POST', headers: { 'x-csrf-token': token! } });
            return { status: reply.status, body: (await reply.json()) as { code?: string; error?: string } };
          },
          [`/api/entries/${entry}/pause`, csrf],
        );
      expect((await pause('billing-report')).status).toBe(200);
      // ops's entry, which billing's grants cannot read, is answered as one that does not run.
      const refused = await pause('ops-cleanup');
      expect(refused.status).toBe(404);
      expect(refused.body.code).toBe('UNKNOWN_ENTRY');
      expect(refused.body.error).toBe('no entry "ops-cleanup" runs in this deployment');
      expect(await redis.smembers(schedulerKeys('tsbeat', name).paused)).toEqual(['billing-report']);
      const keys = schedulerKeys('tsbeat', name);
      const audit = (await redis.xrange(keys.audit, '-', '+')).map(([, f]) => ({
        action: f[f.indexOf('action') + 1],
        who: f[f.indexOf('who') + 1],
        entry: f[f.indexOf('entry') + 1],
      }));
      expect(audit).toEqual([{ action: 'pause', who: 'sso:alice <alice@example.com>', entry: 'billing-report' }]);

      // A token changes the same entry too; the Audit tab shows each change with who and the grant, and filters by who.
      const bearer = { authorization: `Bearer ${TOKEN}` };
      expect((await fetch(`${base}/api/entries/billing-report/resume`, { method: 'POST', headers: bearer })).status).toBe(200);
      expect((await fetch(`${base}/api/entries/billing-report/pause`, { method: 'POST', headers: bearer })).status).toBe(200);
      const shown = () =>
        page
          .locator('table.audit tbody tr')
          .evaluateAll((trs) =>
            trs.map((tr) => [
              tr.getAttribute('data-action'),
              tr.querySelector('td.who')?.textContent,
              tr.querySelector('td.grant')?.textContent,
            ]),
          );
      await page.goto(`${base}/ui/#/audit`);
      await expect.poll(shown, { timeout: 15_000, interval: 200 }).toEqual([
        ['pause', 'api', 'admin'],
        ['resume', 'api', 'admin'],
        ['pause', 'sso:alice <alice@example.com>', 'operator@team=billing'],
      ]);
      // Typed into the Who box, the name exactly as the trail records it: alice's change alone.
      await page.fill('input[name="who"]', 'sso:alice <alice@example.com>');
      await page.getByRole('button', { name: 'Filter' }).click();
      await expect
        .poll(shown, { timeout: 15_000, interval: 200 })
        .toEqual([['pause', 'sso:alice <alice@example.com>', 'operator@team=billing']]);
      // A click on a name: that caller's changes alone.
      await page.goto(`${base}/ui/#/audit`);
      await page.locator('table.audit tbody tr td.who a', { hasText: /^api$/ }).first().click();
      await expect.poll(shown, { timeout: 15_000, interval: 200 }).toEqual([
        ['pause', 'api', 'admin'],
        ['resume', 'api', 'admin'],
      ]);

      // Sign out; the cookie held before is refused from then on (a replay), for a read and a write.
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.getByRole('link', { name: 'Sign in' }).waitFor({ timeout: 5_000 });
      const replay = { cookie: `tsbeat_session=${session!.value}`, origin: base, 'x-csrf-token': csrf };
      const write = await fetch(`${base}/api/entries/billing-report/resume`, { method: 'POST', headers: replay });
      expect(write.status).toBe(401);
      expect(((await write.json()) as { code: string }).code).toBe('API_UNAUTHORIZED');
      expect(await redis.smembers(schedulerKeys('tsbeat', name).paused)).toEqual(['billing-report']);
      expect((await fetch(`${base}/ui/api/overview`, { headers: replay })).status).toBe(401);
      const way = (await (await fetch(`${base}/ui/session`, { headers: replay })).json()) as Record<string, unknown>;
      expect(way).toEqual({ actions: 'login', signIn: true, login: true, who: null, grants: null });
      await context.close();
    });

    it("a signed-in person's dashboard shows only the entries their grants may read; a cookie sent beside another scheme's Authorization header is no session", async () => {
      const context = await browser.newContext();
      const page = await signIn(context, 'alice');
      type Read = { status: number; body: Record<string, unknown> };
      const read = async (path: string): Promise<Read> => fetchIn(page, path);
      // operator@team=billing: billing-report, not ops-cleanup (the whole deployment's reads would show both).
      const list = await read('/ui/api/entries');
      expect(list.status).toBe(200);
      expect((list.body.rows as { name: string }[]).map((r) => r.name)).toEqual(['billing-report']);
      expect(list.body).toMatchObject({ total: 1, matched: 1 });
      expect((await read('/ui/api/overview')).body.counts).toMatchObject({ entries: 1, disabled: 0, invalid: 0 });
      expect((await read('/ui/api/entries/billing-report')).status).toBe(200);
      const other = await read('/ui/api/entries/ops-cleanup');
      expect(other.status).toBe(404);
      expect(JSON.stringify(other.body)).not.toContain('t.ops');
      const strips = await read('/ui/api/strips?name=billing-report&name=ops-cleanup');
      expect(Object.keys(strips.body.strips as object)).toEqual(['billing-report']);
      const status = await read('/api/status');
      expect((status.body.entries as { name: string }[]).map((e) => e.name)).toEqual(['billing-report']);
      // The cookie beside a Basic header: the header is the credential, and it is none here (loopback
      // is not trusted in this deployment): 401, not an anonymous reader of the whole deployment.
      const cookie = (await context.cookies(base)).find((c) => c.name === 'tsbeat_session')!.value;
      for (const path of ['/ui/api/entries', '/api/status', '/status']) {
        const answer = await fetch(`${base}${path}`, {
          headers: { cookie: `tsbeat_session=${cookie}`, authorization: 'Basic YWxpY2U6YW55dGhpbmc=' },
        });
        expect(answer.status, path).toBe(401);
        expect(await answer.text(), path).not.toContain('ops-cleanup');
      }
      await context.close();
    });

    it('a sign-in ended at the provider is refused at the next request: 401, the session gone as after Log out', async () => {
      const context = await browser.newContext();
      const page = await signIn(context, 'alice');
      const { csrf } = (await fetchIn(page, '/ui/api/overview')).body as { csrf?: string };
      expect((await fetchIn(page, '/api/entries')).status).toBe(200);
      const cookie = (await context.cookies(base)).find((c) => c.name === 'tsbeat_session')!.value;
      // The person signs out at the provider (its own end_session page), which revokes the access token the session holds.
      const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as { end_session_endpoint: string };
      const atProvider = await context.newPage();
      await atProvider.goto(discovery.end_session_endpoint);
      await atProvider.getByRole('button', { name: 'Yes, sign me out' }).click();
      await atProvider.waitForURL(/\/success/, { timeout: 10_000 });
      // The next request with the cookie: no session, even sent beside another scheme's Authorization
      // header (asked again all the same); then a read, with loopback not trusted, and a write.
      const beside = await fetch(`${base}/ui/api/entries`, {
        headers: { cookie: `tsbeat_session=${cookie}`, authorization: 'Basic YWxpY2U6YW55dGhpbmc=' },
      });
      expect(beside.status).toBe(401);
      const read = await fetchIn(page, '/api/entries');
      expect(read.status).toBe(401);
      expect(read.body.code).toBe('API_UNAUTHORIZED');
      const write = await fetch(`${base}/api/entries/billing-report/resume`, {
        method: 'POST',
        headers: { cookie: `tsbeat_session=${cookie}`, origin: base, 'x-csrf-token': csrf! },
      });
      expect(write.status).toBe(401);
      expect(((await write.json()) as { code: string }).code).toBe('API_UNAUTHORIZED');
      expect(await redis.smembers(schedulerKeys('tsbeat', name).paused)).toEqual(['billing-report']);
      const ended = await beat.waitForEvent(EVENTS.dashboardSignInRevoked, 5_000);
      expect(ended).toMatchObject({ who: 'sso:alice <alice@example.com>' });
      // The access token is never in what beat run prints.
      expect(beat.allOutput()).not.toMatch(/access.?token"?\s*[:=]/i);
      // The page asks for a new sign-in.
      await page.reload();
      await page.getByRole('link', { name: 'Sign in' }).waitFor({ timeout: 15_000 });
      await context.close();
    });

    it('a person whose groups map to nothing is refused at the callback, naming the claim and the values mapped', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${base}/ui/sign-in`);
      await page.waitForURL(`${issuer}/**`, { timeout: 10_000 });
      await page.fill('input[name="login"]', 'mallory');
      await page.fill('input[name="password"]', 'anything');
      await page.click('button[type="submit"]');
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.waitForURL(`${base}/ui/callback**`, { timeout: 10_000 });
      const body = JSON.parse(await page.locator('body').innerText()) as { code: string; error: string };
      expect(body.code).toBe('no_grants');
      expect(body.error).toBe(
        'signed in as sso:mallory <mallory@example.com>, but groups (nobody-maps-this) maps to no grant in auth.oidc.roles.map: ask whoever runs tsbeat to map one of them (they map billing, admins)',
      );
      expect((await context.cookies(base)).find((c) => c.name === 'tsbeat_session')).toBeUndefined();
      await context.close();
    });

    it("a callback replayed, or one without the browser's sign-in cookie, is refused", async () => {
      const started = await fetch(`${base}/ui/sign-in`, { redirect: 'manual' });
      expect(started.status).toBe(303);
      const cookie = started.headers.get('set-cookie')!.split(';')[0]!;
      const state = new URL(started.headers.get('location')!).searchParams.get('state')!;
      const without = await fetch(`${base}/ui/callback?code=x&state=${state}`, { redirect: 'manual' });
      expect(without.status).toBe(400);
      expect(((await without.json()) as { code: string }).code).toBe('bad_sign_in_state');
      // Another state than the cookie's.
      const other = await fetch(`${base}/ui/callback?code=x&state=not-${state}`, { redirect: 'manual', headers: { cookie } });
      expect(other.status).toBe(400);
    });

    it("a signed-in person's grants follow auth.oidc.roles and their groups: a reload that narrows the mapping narrows the session; leaving the group at the provider ends it", async () => {
      const context = await browser.newContext();
      const page = await signIn(context, 'alice');
      const { csrf } = (await fetchIn(page, '/ui/api/overview')).body as { csrf?: string };
      expect((await fetchIn(page, '/api/entries/billing-report/pause', 'POST', csrf)).status).toBe(200);
      const written = JSON.parse(readFileSync(configFile, 'utf8')) as { auth: { oidc: { roles: { map: Record<string, string> } } } };
      const reload = async (map: Record<string, string>) => {
        const from = beat.logs.length;
        written.auth.oidc.roles.map = map;
        writeFileSync(configFile, JSON.stringify(written));
        beat.signal('SIGHUP');
        await beat.waitForEvent(EVENTS.reload, 10_000, from);
      };
      try {
        await reload({ billing: 'viewer@team=billing', admins: 'admin' });
        const refused = await fetchIn(page, '/api/entries/billing-report/pause', 'POST', csrf);
        expect(refused.status).toBe(403);
        expect(refused.body.code).toBe('FORBIDDEN');
        expect((await fetchIn(page, '/ui/api/entries')).status).toBe(200);
        // alice leaves billing at the provider: her claim maps to nothing at the next recheck.
        const from = beat.logs.length;
        GROUPS['alice'] = ['staff'];
        expect((await fetchIn(page, '/ui/api/entries')).status).toBe(401);
        expect(await beat.waitForEvent(EVENTS.dashboardSessionEnded, 5_000, from)).toMatchObject({ who: 'sso:alice <alice@example.com>' });
      } finally {
        GROUPS['alice'] = ['billing', 'staff'];
        await reload({ billing: 'operator@team=billing', admins: 'admin' });
      }
      await context.close();
    });

    it('a provider that answers userinfo 429 (a rate limit) keeps the sign-in: reads answered, writes 503 until it answers again', async () => {
      const context = await browser.newContext();
      const page = await signIn(context, 'alice');
      const { csrf } = (await fetchIn(page, '/ui/api/overview')).body as { csrf?: string };
      userinfoThrottled = true;
      try {
        // Asked again at every request (recheckSeconds 0): each answer is 429.
        expect((await fetchIn(page, '/ui/api/entries')).status).toBe(200);
        expect((await fetchIn(page, '/api/status')).status).toBe(200);
        const write = await fetchIn(page, '/api/entries/billing-report/pause', 'POST', csrf);
        expect(write.status).toBe(503);
        expect(write.body.code).toBe('ISSUER_UNREACHABLE');
      } finally {
        userinfoThrottled = false;
      }
      expect((await fetchIn(page, '/api/entries/billing-report/pause', 'POST', csrf)).status).toBe(200);
      expect(beat.logs.filter((l) => l['event'] === EVENTS.dashboardSignInRevoked && String(l['reason']).includes('429'))).toEqual([]);
      await context.close();
    });

    it('a provider without a userinfo endpoint: beat run exits 2 naming auth.oidc.issuer and userinfo_endpoint', async () => {
      const port = await freePort();
      const bare = await startIdp(port, 9, { userinfo: false });
      try {
        const file = dir.write(`${name}-bare.json`, {
          name: `${name}-bare`,
          broker: { url: server.url(1) },
          auth: {
            oidc: {
              issuer: `http://127.0.0.1:${port}`,
              clientId: 'tsbeat',
              redirectUrl: 'http://127.0.0.1:9/ui/callback',
              roles: { claim: 'groups', map: { billing: 'viewer' } },
            },
          },
          beatSchedule: { every: { task: 't.every', schedule: 60 } },
        });
        const refused = fleet.spawn({ config: file, label: 'sso-bare', args: ['--http', '127.0.0.1:0'] });
        const exit = await refused.waitForExit(15_000);
        expect(exit.code).toBe(2);
        expect(refused.allOutput()).toContain(
          `auth.oidc.issuer: auth.oidc.issuer "http://127.0.0.1:${port}" publishes no userinfo_endpoint`,
        );
      } finally {
        bare.closeAllConnections();
        await new Promise<void>((resolve) => bare.close(() => resolve()));
      }
    });

    it("an outage of the provider refuses sign-ins and a signed-in session's writes (503, naming auth.oidc.issuer), answers its reads, and leaves bearer tokens working", async () => {
      // Signed in before the outage.
      const context = await browser.newContext();
      const page = await signIn(context, 'alice');
      const { csrf } = (await fetchIn(page, '/ui/api/overview')).body as { csrf?: string };
      const started = await fetch(`${base}/ui/sign-in`, { redirect: 'manual' });
      const cookie = started.headers.get('set-cookie')!.split(';')[0]!;
      const state = new URL(started.headers.get('location')!).searchParams.get('state')!;
      idp.closeAllConnections();
      await new Promise<void>((resolve) => idp.close(() => resolve()));
      const callback = await fetch(`${base}/ui/callback?code=some-code&state=${state}&iss=${encodeURIComponent(issuer)}`, {
        redirect: 'manual',
        headers: { cookie },
      });
      expect(callback.status).toBe(503);
      const refusal = (await callback.json()) as { code: string; error: string };
      expect(refusal.code).toBe('issuer_unreachable');
      expect(refusal.error).toContain(`auth.oidc.issuer "${issuer}" cannot be reached`);
      expect(refusal.error).toContain('API tokens still work');
      await beat.waitForEvent(EVENTS.dashboardIssuerUnreachable, 5_000);
      const api = await fetch(`${base}/api/entries`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(api.status).toBe(200);
      // The signed-in session cannot be checked again: its write is refused, nothing written; its reads go on.
      const paused = await redis.smembers(schedulerKeys('tsbeat', name).paused);
      const write = await fetchIn(page, '/api/entries/billing-report/resume', 'POST', csrf);
      expect(write.status).toBe(503);
      expect(write.body.code).toBe('ISSUER_UNREACHABLE');
      expect(write.body.error).toContain('cannot be reached to check the sign-in of sso:alice <alice@example.com> again');
      expect(await redis.smembers(schedulerKeys('tsbeat', name).paused)).toEqual(paused);
      expect((await fetchIn(page, '/api/entries')).status).toBe(200);
      await context.close();
    });

    it('a provider that cannot be reached at start: beat run exits 2 naming auth.oidc.issuer and the fix', async () => {
      const closed = await freePort();
      const file = dir.write(`${name}-down.json`, {
        name: `${name}-down`,
        broker: { url: server.url(1) },
        auth: {
          oidc: {
            issuer: `http://127.0.0.1:${closed}`,
            clientId: 'tsbeat',
            redirectUrl: 'http://127.0.0.1:9/ui/callback',
            roles: { claim: 'groups', map: { billing: 'viewer' } },
          },
        },
        beatSchedule: { every: { task: 't.every', schedule: 60 } },
      });
      const down = fleet.spawn({ config: file, label: 'sso-down', args: ['--http', '127.0.0.1:0'] });
      const exit = await down.waitForExit(15_000);
      // The secret of the other deployment, and any, never in what it prints.
      expect(down.allOutput()).not.toContain(CLIENT_SECRET);
      expect(exit.code).toBe(2);
      expect(down.allOutput()).toContain(`auth.oidc.issuer: auth.oidc.issuer "http://127.0.0.1:${closed}" cannot be reached`);
    });
  },
);
