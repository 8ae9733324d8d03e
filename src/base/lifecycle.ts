/**
 * A lifecycle scope: what a composition root started, stopped in the reverse order it was added.
 * Each step is bounded (STOP_STEP_MS) and its failure logged with a stable event; neither
 * keeps the steps after it from running, so the connections close even when a part hangs. `beat
 * run` keeps one for the service (service/service.ts), and the deployment's runtime one of its
 * own (service/deployment-runtime.ts).
 */
import { errorMessage } from './errors.js';
import { EVENTS } from './log-events.js';
import type { Logger } from './log.js';
import { within } from './within.js';

interface Step {
  readonly name: string;
  readonly stop: () => unknown;
}

/**
 * Longest wait for one step of a shutdown (the leader's takes runtime/runner.ts STOP_PUBLISH_WAIT_MS
 * + alerts/deliverer.ts ALERT_TIMEOUT_MS at worst), under Kubernetes' 30 s grace.
 */
const STOP_STEP_MS = 20_000;

/** What a step that ran out of time settles to, told apart from a step that finished. */
const TIMED_OUT = Symbol('timed out');

export class LifecycleScope {
  private readonly steps: Step[] = [];
  private stopped: Promise<void> | undefined;

  constructor(private readonly options: { logger: Pick<Logger, 'warn'>; stepMs?: number }) {}

  /** `stop` runs in stopAll, before every step added earlier and after every step added later. */
  add(name: string, stop: () => unknown): void {
    if (this.stopped !== undefined) throw new Error(`lifecycle: "${name}" added after stopAll`);
    this.steps.push({ name, stop });
  }

  /** Runs every step once, the last added first; a second call gets the first's promise. */
  stopAll(): Promise<void> {
    this.stopped ??= this.runSteps();
    return this.stopped;
  }

  private async runSteps(): Promise<void> {
    const waitedMs = this.options.stepMs ?? STOP_STEP_MS;
    for (const step of [...this.steps].reverse()) {
      try {
        const settled = await within(Promise.resolve(step.stop()), waitedMs, () => TIMED_OUT);
        if (settled === TIMED_OUT) {
          this.options.logger.warn(
            { event: EVENTS.stopStepFailed, step: step.name, waitedMs },
            `stopping: ${step.name} did not finish within ${waitedMs} ms; going on with the rest`,
          );
        }
      } catch (error) {
        this.options.logger.warn(
          { event: EVENTS.stopStepFailed, step: step.name, err: error },
          `stopping: ${step.name} failed (${errorMessage(error)}); going on with the rest`,
        );
      }
    }
  }
}
