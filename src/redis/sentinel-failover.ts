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
 * (`disconnect(true)`: its connector asks the sentinels for the primary again) once per new
 * primary announced.
 */
import { Redis } from 'ioredis';

const CHANNEL = '+switch-master';

export function followSentinelFailovers(client: Redis): void {
  const { sentinels, name, sentinelUsername, sentinelPassword, connectTimeout, retryStrategy } = client.options;
  if (sentinels === undefined || sentinels === null || name === undefined) return;
  let subscribers: Redis[] | undefined;
  // "<master> <old ip> <old port> <new ip> <new port>", announced by every sentinel: one hang-up a new primary.
  let followed: string | undefined;
  const onAnnouncement = (channel: string, text: string): void => {
    const [master, , , host, port] = text.split(' ');
    if (channel !== CHANNEL || master !== name || `${host}:${port}` === followed) return;
    followed = `${host}:${port}`;
    client.disconnect(true);
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
  });
  // The subscriptions live while the client is connected: a client that is not follows a failover
  // when it reconnects (its connector asks the sentinels), and one closed while reconnecting emits
  // no 'end' (ioredis), which would leave them open and hold a stopping process.
  client.on('close', () => {
    for (const subscriber of subscribers ?? []) subscriber.disconnect();
    subscribers = undefined;
  });
}
