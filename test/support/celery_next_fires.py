"""Celery's own next fire instants for entries of an app's beat_schedule (test/cli/import-celery.test.ts).

    python3 celery_next_fires.py MODULE:APP AFTER_ISO COUNT NAME...

Prints {"NAME": ["<ISO in UTC>", ...]}: from last_run_at = AFTER, each next fire is Celery's
`last_run_at + schedule.remaining_estimate(last_run_at)` with the schedule's clock (nowfun) held at
last_run_at, as beat's is_due computes it; the fire then becomes the next last_run_at, as after a
run sent on time, in the zone's offset of that instant. A solar walk restarts a minute after each fire (PyEphem returns an event again
when asked from its own instant).
"""
import contextlib
import json
import os
import sys
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.getcwd())
from celery.app.utils import find_app  # noqa: E402
from celery.schedules import maybe_schedule, solar  # noqa: E402

with contextlib.redirect_stdout(sys.stderr):  # what the app prints on import is not our JSON
    app = find_app(sys.argv[1])
# beat hands schedules instants in the app's zone (Celery.now()); an aware UTC one would read a crontab in UTC.
after = datetime.fromisoformat(sys.argv[2]).astimezone(app.timezone)
count = int(sys.argv[3])
out = {}
for name in sys.argv[4:]:
    entry = app.conf.beat_schedule[name]
    sched = maybe_schedule(entry['schedule'], entry.get('relative', False), app)
    last = after
    fires = []
    for _ in range(count):
        sched.nowfun = lambda at=last: at
        fire = last + sched.remaining_estimate(last)
        fires.append(fire.astimezone(timezone.utc).isoformat())
        # Re-expressed in the zone, as beat's next last_run_at (app.now()) is: a pytz datetime moved
        # by arithmetic keeps its old UTC offset across a DST change.
        last = (fire + timedelta(minutes=1) if isinstance(sched, solar) else fire).astimezone(app.timezone)
    out[name] = fires
print(json.dumps(out))
