/** The scheduler's events, with RedBeat's write-back and lock listening in (service.ts wires it). */
import type { SchedulerEvents } from '../ports/events.js';
import type { RedBeatLock } from './lock.js';
import type { RedBeatWriteBack } from './write-back.js';

export function withRedBeat(inner: SchedulerEvents, writeBack: RedBeatWriteBack, lock: RedBeatLock): SchedulerEvents {
  return {
    published: (run, latenessMs) => {
      inner.published(run, latenessMs);
      writeBack.published(run, latenessMs);
    },
    triggerPublished: (message) => inner.triggerPublished(message),
    dropped: (entry) => inner.dropped(entry),
    publishFailed: (error) => inner.publishFailed(error),
    stateLost: (entries) => inner.stateLost(entries),
    lockRenewFailed: () => inner.lockRenewFailed(),
    leadershipChanged: (leading) => {
      inner.leadershipChanged(leading);
      if (leading) lock.lead();
      else void lock.standBy();
    },
  };
}
