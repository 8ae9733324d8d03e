/** The scheduler's events, with RedBeat's write-back and lock listening in (service.ts wires it). */
import { NO_EVENTS, fanOutEvents } from '../ports/events.js';
import type { SchedulerEvents } from '../ports/events.js';
import type { RedBeatLock } from './lock.js';
import type { RedBeatWriteBack } from './write-back.js';

export function withRedBeat(inner: SchedulerEvents, writeBack: RedBeatWriteBack, lock: RedBeatLock): SchedulerEvents {
  return fanOutEvents([
    inner,
    {
      ...NO_EVENTS,
      published: (run, latenessMs) => writeBack.published(run, latenessMs),
      leadershipChanged: (leading) => {
        if (leading) lock.lead();
        else void lock.standBy();
      },
    },
  ]);
}
