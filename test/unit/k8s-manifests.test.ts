/**
 * deploy/kubernetes/*.yaml and the Dockerfile agree with what the program serves and reads: probe
 * paths and ports, the HTTP address, the config path, the schedule itself (`beat check`), the PDB,
 * resource requests, the user. The probe paths and the image's HEALTHCHECK are tried against the
 * real HTTP server (in-process, on a loopback port), not compared with strings copied from it.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ENV } from '../../src/base/env.js';
import { parseHttpAddress, startHttpServer } from '../../src/http/server.js';
import type { HttpAddress } from '../../src/http/server.js';
import { silentLogger } from '../../src/base/log.js';
import { BeatMetrics } from '../../src/observe/metrics.js';
import { repoRoot } from '../support/cli.js';
import { runBeatCli } from '../support/ops.js';
import { TempDir } from '../support/beat-process.js';

// ---- the manifests ------------------------------------------------------------------------------

/** Parsed YAML: the tests check the shape as they go. */
type Obj = Record<string, any>;

const k8sDir = join(repoRoot, 'deploy', 'kubernetes');
const manifests: Obj[] = readdirSync(k8sDir)
  .filter((f) => /\.ya?ml$/.test(f))
  .flatMap((f) =>
    parseAllDocuments(readFileSync(join(k8sDir, f), 'utf8')).map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${f}: ${doc.errors.map((e) => e.message).join('; ')}`);
      return doc.toJS() as Obj;
    }),
  )
  .filter((d) => d !== null);

function only(kind: string): Obj {
  const found = manifests.filter((m) => m['kind'] === kind);
  expect(found, `exactly one ${kind} in deploy/kubernetes`).toHaveLength(1);
  return found[0] as Obj;
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::']);

// ---- the Dockerfile -----------------------------------------------------------------------------

interface Instruction {
  readonly op: string;
  readonly args: string;
}

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
function dockerfile(): Instruction[] {
  const text = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [op = ''] = l.split(/\s+/);
      return { op: op.toUpperCase(), args: l.slice(op.length).trim() };
    });
}

/** ENV of the final stage, both `ENV K=V K2=V2` and `ENV K V` forms. */
function finalEnv(instructions: readonly Instruction[]): Map<string, string> {
  const lastFrom = instructions.map((i) => i.op).lastIndexOf('FROM');
  const env = new Map<string, string>();
  for (const i of instructions.slice(lastFrom).filter((x) => x.op === 'ENV')) {
    if (/^\S+=/.test(i.args))
      for (const m of i.args.matchAll(/(\S+?)=("[^"]*"|\S+)/g)) env.set(m[1] as string, (m[2] as string).replace(/^"|"$/g, ''));
    else {
      const [k = '', ...v] = i.args.split(/\s+/);
      env.set(k, v.join(' '));
    }
  }
  return env;
}

// ---- a real HTTP server to point probes at -----------------------------------------------------

let healthy = true;
let server: Awaited<ReturnType<typeof startHttpServer>>;

beforeAll(async () => {
  server = await startHttpServer(
    { host: '127.0.0.1', port: 0 },
    {
      metrics: new BeatMetrics({ processMetrics: false }),
      health: () => ({ ok: healthy, reason: healthy ? 'leading' : 'the scheduler loop has stalled' }),
      ready: async () => ({ ok: true, reason: 'leading' }),
      status: async () => ({}),
    },
    silentLogger,
  );
});

afterAll(async () => {
  await server.close();
});

async function get(path: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${server.address.port}${path}`, { signal: AbortSignal.timeout(5000) });
  await res.text();
  return res.status;
}

/** Runs a command with a deadline, without blocking this process (the server above must answer). */
function run(argv: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 15_000): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: 'ignore' });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${argv.join(' ')} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

// -------------------------------------------------------------------------------------------------

describe('deploy/kubernetes manifests', () => {
  const deployment = only('Deployment');
  const configMap = only('ConfigMap');
  const pdb = only('PodDisruptionBudget');
  const pod = deployment['spec']['template'];
  const containers = pod['spec']['containers'] as Obj[];
  const beat = containers.find((c) => c['name'] === 'beat') as Obj;
  const env = new Map((beat['env'] as Obj[]).filter((e) => 'value' in e).map((e) => [e['name'] as string, String(e['value'])]));
  const httpAddress = (): HttpAddress => parseHttpAddress(env.get(ENV.http) ?? '', `${ENV.http} in the Deployment`);

  /** A probe's (or annotation's) port, named or numbered, as a number. */
  function portNumber(port: unknown): number {
    if (typeof port === 'number') return port;
    const named = (beat['ports'] as Obj[]).find((p) => p['name'] === port);
    expect(named, `a container port named ${String(port)}`).toBeDefined();
    return Number(named?.['containerPort']);
  }

  it('runs two replicas of the beat container, whose arguments are a `beat run`', () => {
    expect(deployment['spec']['replicas']).toBe(2);
    expect(beat).toBeDefined();
    expect(beat['args']?.[0] ?? 'run').toBe('run');
  });

  it('binds BEAT_HTTP on all interfaces (the kubelet probes the pod IP, never loopback), on the declared container port', () => {
    const address = httpAddress();
    expect(WILDCARD_HOSTS.has(address.host), `BEAT_HTTP host ${address.host}`).toBe(true);
    expect((beat['ports'] as Obj[]).map((p) => Number(p['containerPort']))).toContain(address.port);
  });

  it('probes liveness on /healthz and readiness on /readyz, on the port BEAT_HTTP binds, and the server answers both with 200', async () => {
    const liveness = beat['livenessProbe']['httpGet'];
    const readiness = beat['readinessProbe']['httpGet'];
    expect(liveness['path']).toBe('/healthz');
    expect(readiness['path']).toBe('/readyz');
    expect(portNumber(liveness['port'])).toBe(httpAddress().port);
    expect(portNumber(readiness['port'])).toBe(httpAddress().port);
    expect(await get(liveness['path'])).toBe(200);
    expect(await get(readiness['path'])).toBe(200);
  });

  it('points Prometheus at /metrics on the same port, and the server serves it', async () => {
    const annotations = pod['metadata']['annotations'] ?? {};
    expect(annotations['prometheus.io/path']).toBe('/metrics');
    expect(Number(annotations['prometheus.io/port'])).toBe(httpAddress().port);
    expect(await get('/metrics')).toBe(200);
  });

  it('sets BEAT_CONFIG to the ConfigMap mount path plus a key of the ConfigMap', () => {
    const volume = (pod['spec']['volumes'] as Obj[]).find((v) => v['configMap']?.['name'] === configMap['metadata']['name']);
    expect(volume, 'a volume from the ConfigMap').toBeDefined();
    const mount = (beat['volumeMounts'] as Obj[]).find((m) => m['name'] === volume?.['name']);
    expect(mount, 'the ConfigMap volume mounted in the beat container').toBeDefined();
    // With `items`, a key is mounted under its `path`; without, under its own name.
    const items = volume?.['configMap']['items'] as Obj[] | undefined;
    const files = items ? items.map((i) => [i['key'], i['path']] as const) : Object.keys(configMap['data']).map((k) => [k, k] as const);
    const candidates = files.map(([, path]) => posix.join(mount?.['mountPath'] as string, path));
    expect(candidates).toContain(env.get(ENV.config));
    expect(mount?.['subPath'], 'a subPath mount never sees ConfigMap updates').toBeUndefined();
  });

  it('carries a schedule in its ConfigMap that `beat check` accepts', async () => {
    const key = posix.basename(env.get(ENV.config) ?? '');
    const text = configMap['data'][key] as string;
    expect(typeof text).toBe('string');
    const dir = new TempDir();
    try {
      const file = dir.write(key, text);
      const r = await runBeatCli(['check', '--config', file]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    } finally {
      dir.remove();
    }
  });

  it("has a PodDisruptionBudget that selects the Deployment's pods and still lets a node drain", () => {
    const labels = pod['metadata']['labels'] as Record<string, string>;
    const selector = pdb['spec']['selector']['matchLabels'] as Record<string, string>;
    expect(Object.keys(selector).length).toBeGreaterThan(0);
    for (const [k, v] of Object.entries(selector)) expect(labels[k], `pod label ${k}`).toBe(v);
    expect(deployment['spec']['selector']['matchLabels']).toEqual(selector);
    // minAvailable equal to the replicas would block every eviction.
    if (pdb['spec']['minAvailable'] !== undefined) expect(pdb['spec']['minAvailable']).toBeLessThan(deployment['spec']['replicas']);
    else expect(pdb['spec']['maxUnavailable']).toBeGreaterThanOrEqual(1);
  });

  it('requests CPU and memory for every container', () => {
    for (const c of containers) {
      expect(c['resources']?.['requests']?.['cpu'], `${c['name']} cpu request`).toBeDefined();
      expect(c['resources']?.['requests']?.['memory'], `${c['name']} memory request`).toBeDefined();
    }
  });

  it('runs as the non-root user the image declares', () => {
    const user =
      dockerfile()
        .filter((i) => i.op === 'USER')
        .at(-1)?.args ?? '';
    const uid = Number(user.split(':')[0]);
    expect(Number.isInteger(uid) && uid > 0, `Dockerfile USER ${user} is a numeric non-root uid`).toBe(true);
    const security = { ...pod['spec']['securityContext'], ...beat['securityContext'] };
    expect(security['runAsNonRoot']).toBe(true);
    if (security['runAsUser'] !== undefined) expect(security['runAsUser']).toBe(uid);
  });

  it('drops every capability, forbids privilege escalation, filters system calls and mounts the root read-only (test/integration/container.test.ts runs the image so)', () => {
    const security = { ...pod['spec']['securityContext'], ...beat['securityContext'] };
    expect(security['capabilities']).toEqual({ drop: ['ALL'] });
    expect(security['allowPrivilegeEscalation']).toBe(false);
    expect(security['readOnlyRootFilesystem']).toBe(true);
    expect(security['seccompProfile']).toEqual({ type: 'RuntimeDefault' });
  });

  it("has a NetworkPolicy for the Deployment's pods: in only on the HTTP port, out only to DNS and the brokers' ports", () => {
    const policy = only('NetworkPolicy');
    const labels = pod['metadata']['labels'] as Record<string, string>;
    for (const [k, v] of Object.entries(policy['spec']['podSelector']['matchLabels'] as Record<string, string>))
      expect(labels[k], `pod label ${k}`).toBe(v);
    expect(policy['spec']['policyTypes']).toEqual(['Ingress', 'Egress']);
    const address = httpAddress();
    const ingressPorts = (policy['spec']['ingress'] as Obj[]).flatMap((rule) => rule['ports'] as Obj[]);
    expect(ingressPorts).toEqual([{ protocol: 'TCP', port: address.port }]);
    const egressPorts = new Set(
      (policy['spec']['egress'] as Obj[]).flatMap((rule) => (rule['ports'] as Obj[]).map((p) => `${p['protocol']}/${p['port']}`)),
    );
    // DNS, and the default ports of the servers a config can name: Redis (and TLS, Sentinel), AMQP (and TLS), PostgreSQL, MySQL, HTTPS.
    for (const port of ['UDP/53', 'TCP/53', 'TCP/6379', 'TCP/26379', 'TCP/5672', 'TCP/5671', 'TCP/5432', 'TCP/3306', 'TCP/443'])
      expect(egressPorts.has(port), port).toBe(true);
  });
});

describe('Dockerfile', () => {
  const instructions = dockerfile();
  const env = finalEnv(instructions);
  const args = (op: string): string[] => instructions.filter((i) => i.op === op).map((i) => i.args);

  it('is multi-stage from an official Node image chosen by an ARG, and keeps only production dependencies', () => {
    expect(args('ARG')).toContain('NODE_IMAGE=node:24-bookworm-slim');
    expect(args('FROM')).toEqual(['${NODE_IMAGE} AS build', '${NODE_IMAGE}']);
    expect(args('RUN').some((r) => /npm (prune --omit=dev|ci [^&]*--omit=dev)/.test(r))).toBe(true);
    expect(args('COPY').filter((c) => c.startsWith('--from=build'))).not.toHaveLength(0);
  });

  it('runs `beat run` by default, reading the mounted BEAT_CONFIG the Kubernetes manifest also names', () => {
    expect(args('ENTRYPOINT')).toEqual(['["beat"]']);
    expect(args('CMD')).toEqual(['["run"]']);
    const k8sEnv = new Map(
      ((only('Deployment')['spec']['template']['spec']['containers'] as Obj[])[0]?.['env'] as Obj[]).map((e) => [e['name'], e['value']]),
    );
    expect(env.get(ENV.config)).toBe(k8sEnv.get(ENV.config));
  });

  it('EXPOSEs the port BEAT_HTTP binds, on all interfaces', () => {
    const address = parseHttpAddress(env.get(ENV.http) ?? '', 'ENV BEAT_HTTP');
    expect(WILDCARD_HOSTS.has(address.host)).toBe(true);
    expect(args('EXPOSE').map((p) => Number(p.split('/')[0]))).toEqual([address.port]);
  });

  describe('HEALTHCHECK, run as the container runs it against the real server', () => {
    const healthcheck = args('HEALTHCHECK')[0] ?? '';
    const cmd = JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD') + 3).trim()) as string[];
    const probe = (beatHttp: string | undefined): Promise<number | null> =>
      run([process.execPath, ...cmd.slice(1)], beatHttp === undefined ? {} : { BEAT_HTTP: beatHttp });

    it('is a node command that asks /healthz', () => {
      expect(cmd[0]).toBe('node');
      expect(cmd.join(' ')).toContain('/healthz');
    });

    it('passes on the address BEAT_HTTP names, wildcard host included, not only on 9808', async () => {
      healthy = true;
      expect(await probe(`127.0.0.1:${server.address.port}`)).toBe(0);
      expect(await probe(`0.0.0.0:${server.address.port}`)).toBe(0);
    });

    it('fails when /healthz says the loop has stalled, and when nothing listens', async () => {
      healthy = false;
      try {
        expect(await probe(`127.0.0.1:${server.address.port}`)).toBe(1);
      } finally {
        healthy = true;
      }
      // Nothing listens on port 1 of loopback.
      expect(await probe('127.0.0.1:1')).toBe(1);
    });
  });
});
