/**
 * Where alerts may go (src/alerts/outbound.ts): a real receiver on loopback, which the config
 * file's own URLs reach and a runtime entry's do not (by address, by a name that resolves to
 * loopback, by an IPv4-mapped address), unless alerts.allowedHosts names the host; a refusal is
 * dropped by the deliverer at once, never retried.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertDeliverer, httpSend } from '../../src/alerts/deliverer.js';
import { OutboundRefused, hostListed, isPublicAddress, policySend, trustedAlertUrls } from '../../src/alerts/outbound.js';
import { createLogger } from '../../src/base/log.js';
import type { AlertOutbox, Delivery } from '../../src/ports/alerts.js';

let port = 0;
const received: string[] = [];
const server = createServer((req, res) => {
  received.push(req.url ?? '');
  req.resume();
  req.on('end', () => res.writeHead(204).end());
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function delivery(url: string): Delivery {
  return { id: `d-${Math.random()}`, url, body: '{}', contentType: 'application/json', attempts: 0 };
}

describe('the outbound policy of alerts', () => {
  it('tells public addresses from loopback, private, link-local, shared and unspecified ones', () => {
    for (const a of ['8.8.8.8', '1.1.1.1', '93.184.216.34', '2606:4700:4700::1111', '172.32.0.1', '100.128.0.1'])
      expect(isPublicAddress(a), a).toBe(true);
    for (const a of [
      '127.0.0.1',
      '127.9.9.9',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
      '224.0.0.1',
      'not-an-ip',
    ])
      expect(isPublicAddress(a), a).toBe(false);
    expect(hostListed('Hooks.Example.com', ['hooks.example.com'])).toBe(true);
    expect(hostListed('a.b.example.com', ['*.example.com'])).toBe(true);
    expect(hostListed('example.com.evil', ['*.example.com'])).toBe(false);
  });

  it("sends the config file's URLs anywhere, and refuses a runtime entry's URL to loopback however it is spelled", async () => {
    const trustedHook = `http://127.0.0.1:${port}/config-hook`;
    const trusted = trustedAlertUrls({ webhook: trustedHook }, [{ alerts: { ping: `http://127.0.0.1:${port}/ping` } }]);
    expect([...trusted].sort()).toEqual(
      [trustedHook, `http://127.0.0.1:${port}/ping`, `http://127.0.0.1:${port}/ping/fail`, `http://127.0.0.1:${port}/ping/start`].sort(),
    );
    const send = policySend({ trustedUrls: () => trusted, allowedHosts: () => undefined }, httpSend);
    received.length = 0;
    expect(await send(delivery(trustedHook), 2000)).toBe(204);
    expect(await send(delivery(`http://127.0.0.1:${port}/ping/start`), 2000)).toBe(204);
    for (const url of [
      `http://127.0.0.1:${port}/runtime-hook`,
      `http://localhost:${port}/by-name`,
      `http://[::ffff:127.0.0.1]:${port}/mapped`,
      `http://169.254.169.254/latest/meta-data/`,
      `http://0.0.0.0:${port}/unspecified`,
    ]) {
      await expect(send(delivery(url), 2000), url).rejects.toBeInstanceOf(OutboundRefused);
    }
    expect(received).toEqual(['/config-hook', '/ping/start']);
  });

  it('lets a runtime entry reach only the hosts of alerts.allowedHosts when it is set, private or not', async () => {
    const onlyLocalhost = policySend({ trustedUrls: () => new Set(), allowedHosts: () => ['localhost'] }, httpSend);
    received.length = 0;
    expect(await onlyLocalhost(delivery(`http://localhost:${port}/listed`), 2000)).toBe(204);
    await expect(onlyLocalhost(delivery(`http://127.0.0.1:${port}/unlisted`), 2000)).rejects.toThrow(/not in alerts.allowedHosts/);
    expect(received).toEqual(['/listed']);
  });

  it('drops a refused delivery at once: one attempt, settled, logged as beat.alert.dropped', async () => {
    const settled: string[] = [];
    const retried: string[] = [];
    const d = delivery(`http://127.0.0.1:${port}/never`);
    let given = false;
    const outbox: AlertOutbox = {
      enqueue: async () => 0,
      claim: async () => ({ deliveries: given ? [] : ((given = true), [d]), nextDueMs: undefined }),
      settle: async (id: string) => void settled.push(id),
      retry: async (x: Delivery) => void retried.push(x.id),
      pending: async () => ({ count: 0, nextDueMs: undefined }),
    };
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (t: string) => void lines.push(JSON.parse(t)) } });
    const send = policySend({ trustedUrls: () => new Set(), allowedHosts: () => undefined }, httpSend);
    const deliverer = new AlertDeliverer({ outbox, logger, now: () => Date.now(), send });
    received.length = 0;
    deliverer.start();
    for (let i = 0; i < 100 && settled.length === 0; i += 1) await new Promise((r) => setTimeout(r, 20));
    await deliverer.stop();
    expect(settled).toEqual([d.id]);
    expect(retried).toEqual([]);
    expect(received).toEqual([]);
    expect(lines.find((l) => l['event'] === 'beat.alert.dropped')).toMatchObject({
      attempts: 1,
      failure: expect.stringMatching(/not a public address/),
    });
  });
});
