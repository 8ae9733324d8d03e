/**
 * What `/api/stop` does (http/stop-routes.ts): the deployment-wide stop read, set and lifted in the
 * control store, each change with its audit event (`pause-all`, `resume-all`) in the same MULTI.
 */
import { deploymentStopView } from '../control/deployment-stop.js';
import type { AuditContext } from '../redis/audit-log.js';
import type { ControlStore } from '../redis/control-store.js';
import type { StopHandlers } from '../http/stop-routes.js';

export interface StopHandlerInputs {
  readonly control: Pick<ControlStore, 'deploymentStop' | 'stopDeployment' | 'resumeDeployment'>;
  readonly now: () => number;
  readonly audit: (who: string, note: string | undefined) => AuditContext;
}

export function stopHandlers(inputs: StopHandlerInputs): StopHandlers {
  return {
    read: async () => {
      const stop = await inputs.control.deploymentStop();
      return stop === undefined ? null : deploymentStopView(stop);
    },
    stop: async (who, note) => {
      const { stop, changed } = await inputs.control.stopDeployment(inputs.now(), inputs.audit(who, note));
      return { stopped: deploymentStopView(stop), changed };
    },
    resume: async (who, note) => {
      const lifted = await inputs.control.resumeDeployment(inputs.now(), inputs.audit(who, note));
      return { stopped: null, lifted: lifted === undefined ? null : deploymentStopView(lifted) };
    },
  };
}
