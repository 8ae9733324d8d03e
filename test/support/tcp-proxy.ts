/**
 * A loopback TCP proxy that can black-hole the connections it carries: `freeze()` stops forwarding
 * on every open connection without closing it (no FIN, no RST: what a partition or a NAT that
 * dropped the flow looks like to the client), while new connections are forwarded normally.
 * `cut()` closes every open connection, and `refuse(true)` closes each new one at once, until
 * `refuse(false)`: a server gone for a while, as the client's reconnects see it. `record()` keeps
 * the bytes the clients write, to compare what two ways of sending put on the wire.
 */
import { createConnection, createServer } from 'node:net';
import type { Socket } from 'node:net';

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  frozen: boolean;
}

export class TcpProxy {
  private readonly pairs = new Set<Pair>();
  private readonly server = createServer((client) => this.accept(client));
  /** Connections accepted so far. */
  connections = 0;

  constructor(
    readonly port: number,
    private readonly upstreamPort: number,
  ) {}

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  private refusing = false;
  private recording: Buffer[] | undefined;

  /** Keeps every byte the clients write from now on; the function returned stops and hands them over. */
  record(): () => Buffer {
    const chunks: Buffer[] = [];
    this.recording = chunks;
    return () => {
      this.recording = undefined;
      return Buffer.concat(chunks);
    };
  }

  private accept(client: Socket): void {
    this.connections += 1;
    if (this.refusing) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: '127.0.0.1', port: this.upstreamPort });
    const pair: Pair = { client, upstream, frozen: false };
    this.pairs.add(pair);
    const forward = (from: Socket, to: Socket): void => {
      from.on('data', (chunk: Buffer) => {
        if (from === client) this.recording?.push(chunk);
        if (!pair.frozen) to.write(chunk);
      });
    };
    forward(client, upstream);
    forward(upstream, client);
    const close = (): void => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close);
    upstream.on('close', close);
    client.on('error', close);
    upstream.on('error', close);
  }

  /** Black-holes every connection open now: bytes either way are swallowed, nothing is closed. */
  freeze(): number {
    for (const pair of this.pairs) pair.frozen = true;
    return this.pairs.size;
  }

  /** Closes every connection open now; returns how many. */
  cut(): number {
    const count = this.pairs.size;
    for (const pair of [...this.pairs]) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    return count;
  }

  /** While on, every new connection is closed as soon as it is accepted. */
  refuse(on: boolean): void {
    this.refusing = on;
  }

  async stop(): Promise<void> {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
