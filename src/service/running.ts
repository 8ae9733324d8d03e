/** What `beat run` starts and gets back, whichever way it runs (the service, or a dry run). */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { makeOrigin } from '../celery/message.js';
import type { MessageEnv } from '../celery/message.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { Logger } from '../base/log.js';
import type { HttpAccess } from '../http/auth.js';
import type { HttpAddress } from '../http/server.js';
import type { Clock } from '../ports/clock.js';

export interface ServiceOptions {
  readonly config: ResolvedConfig;
  /**
   * Carries `instance` and `deployment` on every line (createLogger's `base`), so that lines logged
   * outside the service (a failed reload, say) carry them too.
   */
  readonly logger: Logger;
  /** This process's name in the lock, the leader record and the logs (newInstanceId). */
  readonly instanceId: string;
  readonly clock?: Clock;
  /** Serve /healthz, /readyz, /metrics, /status here. */
  readonly http?: HttpAddress | undefined;
  /** The API token and who may read the schedule over HTTP (see src/http/auth.ts). */
  readonly httpAccess?: HttpAccess;
}

export interface RunningService {
  /** Resolves when the service has stopped. */
  readonly done: Promise<void>;
  /** Finishes the publish in flight, hands over leadership, closes connections. */
  stop(reason: string): Promise<void>;
  /** Applies a new config without losing state; false (and the old schedule kept) when it cannot. */
  reload(next: ResolvedConfig): Promise<boolean>;
  readonly instanceId: string;
  readonly httpAddress: HttpAddress | undefined;
}

/** The system's wall clock itself, with no wrapper of ours: each wake-up and publish reads it several times. */
export const wallClock: Clock = { now: Date.now };

/** Where this process's messages say they come from, and where replies would go. */
export function messageEnv(): MessageEnv {
  return { origin: makeOrigin(process.pid, hostname()), replyTo: randomUUID() };
}

export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
