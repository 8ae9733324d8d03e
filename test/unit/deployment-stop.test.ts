/**
 * The deployment-wide stop's one stored format and the words every view says it with
 * (control/deployment-stop.ts), and the red line of `beat status` on a terminal (commands/io.ts).
 */
import { describe, expect, it } from 'vitest';
import {
  decodeDeploymentStop,
  deploymentStopText,
  deploymentStopView,
  encodeDeploymentStop,
  stoppedRefusal,
} from '../../src/control/deployment-stop.js';
import { terminalIo } from '../../src/commands/io.js';
import type { Io } from '../../src/commands/io.js';

const AT = Date.parse('2026-11-25T12:00:00Z');

describe('the stop key', () => {
  it('round-trips who, when and the note; a stop without a note has none', () => {
    const stop = { by: 'ops@host', atMs: AT, note: 'incident 4711' };
    expect(decodeDeploymentStop(encodeDeploymentStop(stop))).toEqual(stop);
    expect(decodeDeploymentStop(encodeDeploymentStop({ by: 'api', atMs: AT }))).toEqual({ by: 'api', atMs: AT });
  });

  it('a value tsbeat never writes is still a stop (the key alone stops publishing), of unknown origin', () => {
    for (const text of ['', 'garbage', '{"by":1}', 'null', '[]', '{"by":"x","at":"soon"}']) {
      const stop = decodeDeploymentStop(text);
      expect(stop.by).toContain('unknown');
      expect(deploymentStopView(stop).since).toBe('unknown');
    }
  });

  it('says who, since when, the note and how to resume; a refusal names the action and the way out', () => {
    const view = deploymentStopView({ by: 'ops@host', atMs: AT, note: 'incident 4711' });
    expect(view).toEqual({ by: 'ops@host', since: '2026-11-25T12:00:00.000Z', note: 'incident 4711' });
    expect(deploymentStopText(view)).toBe(
      "DEPLOYMENT STOPPED by ops@host since 2026-11-25T12:00:00.000Z (note: incident 4711): no replica publishes anything; resume with 'beat resume --all'",
    );
    expect(stoppedRefusal('manual run', deploymentStopView({ by: 'api', atMs: AT }))).toBe(
      "the deployment is stopped (beat pause --all by api since 2026-11-25T12:00:00.000Z), so no manual run is published; resume it with 'beat resume --all' first",
    );
  });
});

describe("beat status's red line", () => {
  it('is escaped before the colour wraps it: a note cannot drive the terminal', () => {
    const alerted: string[] = [];
    const io: Io = { out: () => undefined, err: () => undefined, env: {}, cwd: '/', now: () => AT, alert: (t) => alerted.push(t) };
    terminalIo(io, true).alert?.('stopped (note: \u001b[2Jgone)');
    expect(alerted).toHaveLength(1);
    expect(alerted[0]).not.toContain('\u001b');
  });
});
