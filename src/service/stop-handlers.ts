/**
 * What `/api/stop` does (http/stop-routes.ts): the deployment-wide stop read, set and lifted through
 * the operator verbs (operations/control-verbs.ts), each change with its audit event (`pause-all`,
 * `resume-all`) in the same MULTI.
 */
import { readStop, setPaused } from '../operations/control-verbs.js';
import type { ControlStores } from '../operations/control-verbs.js';
import type { StopHandlers } from '../http/stop-routes.js';

export interface StopHandlerInputs {
  readonly control: ControlStores;
  readonly now: () => number;
}

export function stopHandlers(inputs: StopHandlerInputs): StopHandlers {
  const { control } = inputs;
  return {
    read: () => readStop(control),
    stop: (who, note) => setPaused(control, { who, note }, { all: true }, true, inputs.now()),
    resume: (who, note) => setPaused(control, { who, note }, { all: true }, false, inputs.now()),
  };
}
