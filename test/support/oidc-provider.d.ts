/**
 * The little of oidc-provider (a devDependency, the real OpenID provider of the SSO tests) that the
 * tests use: the package ships no types of its own, and @types/oidc-provider is not a dependency.
 */
declare module 'oidc-provider' {
  import type { Server } from 'node:http';

  interface Account {
    readonly accountId: string;
    claims(): Record<string, unknown> | Promise<Record<string, unknown>>;
  }

  interface Configuration {
    readonly clients?: readonly Record<string, unknown>[];
    readonly claims?: Record<string, readonly string[]>;
    readonly findAccount?: (ctx: unknown, sub: string) => Account | undefined | Promise<Account | undefined>;
    readonly cookies?: { readonly keys?: readonly string[] };
    readonly ttl?: Record<string, number>;
    readonly features?: Record<string, unknown>;
  }

  /** The little of Koa's context a middleware of the tests touches. */
  interface KoaContext {
    readonly path: string;
    status: number;
    body: unknown;
    set(header: string, value: string): void;
  }

  export default class Provider {
    constructor(issuer: string, configuration?: Configuration);
    listen(port: number, host: string, callback: () => void): Server;
    /** A Koa middleware run before the provider's own routes. */
    use(middleware: (ctx: KoaContext, next: () => Promise<void>) => Promise<void>): void;
  }
}
