/**
 * A Sentinel client follows a failover as soon as a sentinel announces it (`+switch-master`), not
 * when its connection to the old primary fails: after a planned switch (`SENTINEL FAILOVER`) the
 * old primary is reconfigured only some seconds later (10 s in tests), and until then it accepts
 * writes that the replication from the new primary discards.
 *
 * ioredis's own `failoverDetector` does this, but left its sentinel subscriptions open after
 * `quit()` and closed them twice after a failover, each second time arming a 2 s timer that held a
 * stopping process: this follower is ioredis's public API only. While the client is connected it
 * subscribes through each sentinel of the client's options, and hangs the client up
 * (`disconnect(true)`: its connector asks the sentinels for the primary again) when a sentinel
 * announces a new primary it is not connected to; and again each time it reconnects to the old one
 * within SENTINEL_SWITCH_WINDOW_MS of the announcement (the sentinel its connector asked had
 * not switched yet).
 */
import { Redis } from 'ioredis';

/**
 * After a sentinel announces a failover, a Sentinel client that reconnects to the old primary (the
 * sentinel it asked had not switched yet: sentinels learn of a failover from each other within
 * ~2 s) hangs up and asks again, for this long after the announcement.
 */
const SENTINEL_SWITCH_WINDOW_MS = 10_000;

const CHANNEL = '+switch-master';

interface Switch {
  readonly from: string;
  readonly to: string;
  readonly atMs: number;
}

/** The address a client's connection reached, as sentinels write addresses (`127.0.0.1:6379`). */
export function connectedAddress(client: Redis): string {
  return `${(client.stream.remoteAddress ?? '?').replace(/^::ffff:/, '')}:${client.stream.remotePort ?? '?'}`;
}

export function followSentinelFailovers(client: Redis): void {
  const { sentinels, name, sentinelUsername, sentinelPassword, connectTimeout, retryStrategy } = client.options;
  if (sentinels === undefined || sentinels === null || name === undefined) return;
  let subscribers: Redis[] | undefined;
  let latest: Switch | undefined;
  const connectedTo = (): string | undefined => (client.status === 'ready' ? connectedAddress(client) : undefined);
  // "<master> <old ip> <old port> <new ip> <new port>", announced by every sentinel as it switches.
  const onAnnouncement = (channel: string, text: string): void => {
    const [master, oldHost, oldPort, newHost, newPort] = text.split(' ');
    if (channel !== CHANNEL || master !== name) return;
    latest = { from: `${oldHost}:${oldPort}`, to: `${newHost}:${newPort}`, atMs: Date.now() };
    // Not connected: the connection under way asks the sentinels (and is checked when ready).
    const at = connectedTo();
    if (at !== undefined && at !== latest.to) client.disconnect(true);
  };
  client.on('ready', () => {
    subscribers ??= sentinels.map((sentinel) => {
      const subscriber = new Redis({
        host: sentinel.host ?? '127.0.0.1',
        port: sentinel.port ?? 26379,
        ...(sentinelUsername !== undefined && sentinelUsername !== null ? { username: sentinelUsername } : {}),
        ...(sentinelPassword !== undefined && sentinelPassword !== null ? { password: sentinelPassword } : {}),
        ...(connectTimeout !== undefined ? { connectTimeout } : {}),
        ...(retryStrategy !== undefined ? { retryStrategy } : {}),
        protocol: 2,
        maxRetriesPerRequest: null,
      });
      // A sentinel that is down is retried; the others still announce. (Without a listener ioredis prints each error.)
      subscriber.on('error', () => undefined);
      subscriber.on('message', onAnnouncement);
      subscriber.subscribe(CHANNEL).catch(() => undefined);
      return subscriber;
    });
    if (latest !== undefined && Date.now() - latest.atMs < SENTINEL_SWITCH_WINDOW_MS && connectedTo() === latest.from) {
      client.disconnect(true);
    }
  });
  // The subscriptions live while the client is connected: a client that is not follows a failover
  // when it reconnects (its connector asks the sentinels), and one closed while reconnecting emits
  // no 'end' (ioredis), which would leave them open and hold a stopping process.
  client.on('close', () => {
    for (const subscriber of subscribers ?? []) subscriber.disconnect();
    subscribers = undefined;
  });
}
