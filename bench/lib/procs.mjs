// Spawning the two schedulers and sampling their CPU and memory from /proc.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
/** The Node flags of the CLI's shebang (`#!/usr/bin/env -S node …`): tsbeat runs as `beat` starts it. */
export const shebangNodeFlags = (/^#!.*\bnode\b(.*)$/m.exec(readFileSync(CLI, 'utf8').split('\n', 1)[0] ?? '')?.[1] ?? '')
  .trim()
  .split(/\s+/)
  .filter(Boolean);
const CLK_TCK = 100;

/** A loopback port nothing listens on right now (the OS's choice), for a private server. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Node flags for every tsbeat the bench starts: `npm run bench -- --cpu-prof DIR` sets
 * `--cpu-prof --cpu-prof-dir DIR`, one .cpuprofile per process (open it in Chrome's DevTools).
 */
export const tsbeatNodeFlags = [];

export function spawnTsbeat(configPath, extraArgs = [], env = {}, cli = CLI) {
  const child = spawn(process.execPath, [...shebangNodeFlags, ...tsbeatNodeFlags, cli, 'run', '--config', configPath, ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BEAT_LOG_FORMAT: 'json', ...env },
  });
  const lines = [];
  let buffer = '';
  child.stdout.on('data', (chunk) => {
    buffer += chunk;
    let i;
    while ((i = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      if (
        line.includes('"beat.lock') ||
        line.includes('"beat.start') ||
        line.includes('"beat.http.listen') ||
        line.includes('"beat.entries') ||
        line.includes('error')
      )
        lines.push(line);
    }
  });
  child.stderr.on('data', () => undefined);
  child.logLines = lines;
  return child;
}

/** Writes a Celery app module with the given beat_schedule (Python source) and starts `celery beat`. */
export function spawnCeleryBeat(dir, brokerUrl, scheduleSource) {
  writeFileSync(
    join(dir, 'benchapp.py'),
    `from celery import Celery
from celery.schedules import crontab
app = Celery('benchapp', broker=${JSON.stringify(brokerUrl)})
app.conf.timezone = 'UTC'
app.conf.beat_schedule = {}
${scheduleSource}
`,
  );
  const child = spawn(
    '/usr/bin/python3',
    ['-m', 'celery', '-A', 'benchapp', 'beat', '-s', join(dir, 'celerybeat-schedule'), '--loglevel', 'WARNING'],
    {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    },
  );
  child.stderr.on('data', () => undefined);
  return child;
}

export function celeryInstalled() {
  try {
    return spawnSyncOk('/usr/bin/python3', ['-c', 'import celery, redis']);
  } catch {
    return false;
  }
}

import { spawnSync } from 'node:child_process';
function spawnSyncOk(cmd, args) {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

export function celeryVersion() {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import celery; print(celery.__version__)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : 'not installed';
}

function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** The CPU time (user and system) a process has used so far, in seconds; undefined once it is gone. */
export function processCpuSeconds(pid) {
  try {
    return cpuTicks(pid) / CLK_TCK;
  } catch {
    return undefined;
  }
}

function rssBytes(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb * 1024;
}

/** CPU share (%), peak RSS and the last RSS sample over `ms`, sampled every 250 ms. */
export async function sampleIdle(pid, ms) {
  const t0 = Date.now();
  const c0 = cpuTicks(pid);
  let peak = rssBytes(pid);
  let last = peak;
  while (Date.now() - t0 < ms) {
    await new Promise((r) => setTimeout(r, 250));
    last = rssBytes(pid);
    peak = Math.max(peak, last);
  }
  const cpu = ((cpuTicks(pid) - c0) / CLK_TCK / ((Date.now() - t0) / 1000)) * 100;
  // The peak is what a memory limit must allow; the last sample is where it settles (V8 gives
  // start-up memory back only after some idle seconds).
  return { cpuPercent: cpu, rssMB: peak / 1e6, lastRssMB: last / 1e6 };
}

export async function stop(child, signal = 'SIGTERM', waitMs = 10000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), waitMs);
  await exited;
  clearTimeout(timer);
}

export async function waitForLog(child, pattern, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.logLines.some((l) => pattern.test(l))) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}
