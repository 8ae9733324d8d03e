/**
 * Dropping an AMQP connection through amqplib's public API (src/amqp/connection.ts): `reset()` and
 * an unanswered `close()` hang the socket up through the AbortSignal in the socket options, which
 * amqplib hands to net.connect. Broker: the shared RabbitMQ on 5672.
 */
import type { Message } from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { AmqpConnection } from '../../src/amqp/connection.js';
import { createLogger } from '../../src/base/log.js';
import { parseAmqpUrl } from '../../src/config/amqp-url.js';
import { waitUntil } from '../support/beat-process.js';

interface Line {
  readonly event?: string;
  readonly msg?: string;
  readonly reason?: string;
  readonly err?: { readonly message?: string };
}

describe('an AMQP connection dropped on purpose', () => {
  const connections: AmqpConnection[] = [];
  afterEach(async () => {
    for (const connection of connections.splice(0)) await connection.close();
  });

  function open(): { connection: AmqpConnection; lines: Line[]; losses: () => number } {
    const lines: Line[] = [];
    let losses = 0;
    const connection = new AmqpConnection({
      spec: parseAmqpUrl('amqp://guest:guest@127.0.0.1:5672//'),
      logger: createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(JSON.parse(line) as Line) } }),
      readFile: () => Buffer.alloc(0),
      connectionName: 'tsbeat-test-reset',
      onReturn: (_message: Message) => undefined,
      onLost: () => (losses += 1),
    });
    connections.push(connection);
    return { connection, lines, losses: () => losses };
  }

  it('reset() hangs the socket up at once: the connection is lost with the reason, and a new one opens', async () => {
    const { connection, lines, losses } = open();
    await connection.start();
    expect(connection.status).toBe('ready');
    const first = await connection.confirmChannel();

    connection.reset('confirms overdue (test)');
    expect(losses()).toBe(0); // the socket's close comes on a later turn
    await waitUntil('the connection to be lost', () => (losses() === 1 ? true : undefined), 5000);
    expect(lines.find((l) => l.msg === 'dropping the broker connection')?.reason).toBe('confirms overdue (test)');
    // net.connect's signal destroys the socket with an AbortError, which amqplib reports.
    expect(lines.find((l) => l.msg === 'broker connection error')?.err?.message).toBe('The operation was aborted');

    await waitUntil('a new connection', () => (connection.status === 'ready' ? true : undefined), 10_000);
    expect(await connection.confirmChannel()).not.toBe(first);
  });

  it('reset() after close() does nothing: the connection stays closed', async () => {
    const { connection } = open();
    await connection.start();
    await connection.close();
    connection.reset('after close');
    expect(connection.status).toBe('closed');
  });
});
