/**
 * A private Redis Cluster for tests: `masters` cluster-mode servers (each a PrivateRedis on its own
 * loopback port, nothing on disk), each with `replicasPerMaster` replicas, joined by
 * `redis-cli --cluster create` (valkey-cli when the server is Valkey: TSBEAT_TEST_REDIS_SERVER). A
 * node is declared failed after NODE_TIMEOUT_MS, so that a killed master's replica is promoted
 * within two or three seconds. Start it in beforeAll, `stop()` it in afterAll.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { waitUntil } from './beat-process.js';
import { PrivateRedis, REDIS_SERVER, freePort } from './redis-server.js';

const run = promisify(execFile);

/** How long a node may be silent before the others count it failed (cluster-node-timeout; setNodeTimeout changes it). */
export const NODE_TIMEOUT_MS = 1000;

/** The CLI of the server binary in use: valkey-cli beside valkey-server, redis-cli beside redis-server. */
const CLI = REDIS_SERVER.replace(/-server$/, '-cli');

/**
 * How long from `now` to the middle of the widest gap between the phases of `slots` in the second
 * (epoch ms modulo 1000): the instant furthest from any slot of one-second entries. A master killed
 * then has no batch between the broker's confirm and its record in Redis (such a batch is sent
 * again, with the same task ids: the AMQP broker's at least once).
 */
export function quietDelay(slots: readonly number[], now = Date.now()): number {
  const phases = [...new Set(slots.map((s) => ((s % 1000) + 1000) % 1000))].sort((a, b) => a - b);
  let best = { gap: -1, mid: 500 };
  phases.forEach((p, i) => {
    const next = phases[i + 1] ?? (phases[0] ?? 0) + 1000;
    if (next - p > best.gap) best = { gap: next - p, mid: (p + (next - p) / 2) % 1000 };
  });
  return (best.mid - (now % 1000) + 1000) % 1000;
}

export interface ClusterNodeInfo {
  readonly port: number;
  readonly role: 'master' | 'replica';
  /** The slot ranges a master serves, [first, last] each. */
  readonly slots: readonly (readonly [number, number])[];
  /** A replica's master's node id; a master's own id. */
  readonly masterId: string;
  readonly id: string;
  readonly failed: boolean;
}

export class PrivateRedisCluster {
  readonly nodes: PrivateRedis[] = [];

  constructor(
    private readonly masters = 3,
    private readonly replicasPerMaster = 1,
  ) {}

  /** The `redis-cluster://` URL of its masters' first three ports (any node would do as a seed). */
  url(): string {
    return `redis-cluster://${this.nodes
      .slice(0, this.masters)
      .map((n) => `127.0.0.1:${n.port}`)
      .join(',')}`;
  }

  /** A cluster client for the test's own reads (nothing retried, no offline queue). */
  client(): Cluster {
    const client = new Cluster(
      this.nodes.filter((n) => n.running).map((n) => ({ host: '127.0.0.1', port: n.port })),
      { lazyConnect: true, redisOptions: { maxRetriesPerRequest: 1 } },
    );
    client.on('error', () => undefined);
    return client;
  }

  /** A plain client of one node (for CLUSTER, INFO and what it holds itself). */
  nodeClient(port: number): Redis {
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    client.on('error', () => undefined);
    return client;
  }

  async start(): Promise<void> {
    const count = this.masters * (1 + this.replicasPerMaster);
    const ports = new Set<number>();
    while (ports.size < count) ports.add(await freePort());
    for (const port of ports) {
      const node = new PrivateRedis(port, {
        args: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--cluster-node-timeout',
          String(NODE_TIMEOUT_MS),
        ],
      });
      this.nodes.push(node);
    }
    await Promise.all(this.nodes.map((n) => n.start()));
    const addresses = this.nodes.map((n) => `127.0.0.1:${n.port}`);
    await run(CLI, ['--cluster', 'create', ...addresses, '--cluster-replicas', String(this.replicasPerMaster), '--cluster-yes'], {
      timeout: 30_000,
    });
    await this.waitHealthy();
  }

  /** Sets cluster-node-timeout on every answering node: how long a silent master goes before its replica is promoted. */
  async setNodeTimeout(ms: number): Promise<void> {
    for (const node of this.answering()) {
      const c = this.nodeClient(node.port);
      try {
        await c.connect();
        await c.config('SET', 'cluster-node-timeout', String(ms));
      } finally {
        c.disconnect();
      }
    }
  }

  /** The running nodes that answer (not paused). */
  private answering(): PrivateRedis[] {
    return this.nodes.filter((n) => n.running && !n.paused);
  }

  /**
   * Until every answering node says cluster_state:ok and knows `masters` masters with their
   * replicas, each replica's link to its master up (a replica that has not synced yet is not
   * promoted when its master fails).
   */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    await waitUntil(
      'the cluster to be ok on every running node, each master with its replicas',
      async () => {
        for (const node of this.answering()) {
          const c = this.nodeClient(node.port);
          try {
            await c.connect();
            const info = await c.call('CLUSTER', 'INFO');
            if (!String(info).includes('cluster_state:ok')) return undefined;
            const replication = await c.info('replication');
            if (replication.includes('role:slave') && !replication.includes('master_link_status:up')) return undefined;
          } catch {
            return undefined;
          } finally {
            c.disconnect();
          }
        }
        const table = await this.table();
        const live = table.filter((n) => !n.failed);
        const masters = live.filter((n) => n.role === 'master' && n.slots.length > 0);
        if (masters.length !== this.masters) return undefined;
        for (const m of masters)
          if (live.filter((n) => n.role === 'replica' && n.masterId === m.id).length < this.replicasPerMaster) return undefined;
        return true;
      },
      timeoutMs,
      () => this.nodes.map((n) => n.output).join('\n'),
    );
  }

  /** CLUSTER NODES as one answering node sees it. */
  async table(): Promise<ClusterNodeInfo[]> {
    const node = this.answering()[0];
    if (node === undefined) throw new Error('no node of the cluster is running');
    const c = this.nodeClient(node.port);
    try {
      await c.connect();
      const text = String(await c.call('CLUSTER', 'NODES'));
      return text
        .trim()
        .split('\n')
        .map((line) => {
          const [id = '', address = '', flags = '', master = '', , , , , ...slots] = line.split(' ');
          const role = flags.includes('master') ? 'master' : 'replica';
          return {
            id,
            port: Number(/:(\d+)@/.exec(address)?.[1]),
            role,
            masterId: role === 'master' ? id : master,
            failed: flags.split(',').some((f) => f === 'fail' || f === 'fail?'),
            slots: slots
              .filter((s) => /^\d/.test(s))
              .map((s) => {
                const [a = '0', b] = s.split('-');
                return [Number(a), Number(b ?? a)] as const;
              }),
          };
        });
    } finally {
      c.disconnect();
    }
  }

  /** The slot of a key, as the server computes it. */
  async keySlot(key: string): Promise<number> {
    const node = this.answering()[0] as PrivateRedis;
    const c = this.nodeClient(node.port);
    try {
      await c.connect();
      return Number(await c.call('CLUSTER', 'KEYSLOT', key));
    } finally {
      c.disconnect();
    }
  }

  /** The live master that serves `slot`. */
  async masterOf(slot: number): Promise<ClusterNodeInfo> {
    const table = await this.table();
    const master = table.find((n) => n.role === 'master' && !n.failed && n.slots.some(([a, b]) => slot >= a && slot <= b));
    if (master === undefined) throw new Error(`no live master serves slot ${slot}`);
    return master;
  }

  /** The PrivateRedis on `port`. */
  node(port: number): PrivateRedis {
    const node = this.nodes.find((n) => n.port === port);
    if (node === undefined) throw new Error(`no node of the cluster on ${port}`);
    return node;
  }

  /** Every key on the masters, by the master's port (SCAN of each). */
  async keysByMaster(match = '*'): Promise<Map<number, string[]>> {
    const out = new Map<number, string[]>();
    for (const m of (await this.table()).filter((n) => n.role === 'master' && !n.failed)) {
      const c = this.nodeClient(m.port);
      try {
        await c.connect();
        const keys: string[] = [];
        let cursor = '0';
        do {
          const [next, batch] = await c.scan(cursor, 'MATCH', match, 'COUNT', 1000);
          cursor = next;
          keys.push(...batch);
        } while (cursor !== '0');
        out.set(m.port, keys);
      } finally {
        c.disconnect();
      }
    }
    return out;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}
