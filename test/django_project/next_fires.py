#!/usr/bin/env python3
"""django-celery-beat's own next fire instants of PeriodicTask rows, as DatabaseScheduler computes them.

    python3 next_fires.py AFTER_ISO COUNT NAME...

Prints {"NAME": ["<ISO in UTC>", ...]}: the row's `schedule` property (a TzAwareCrontab in the row's
zone, an interval…), asked as beat's is_due asks it: from last_run_at = AFTER, each next fire is
`last_run_at + remaining_estimate(last_run_at)` (last_run_at in the row's zone, as TzAwareCrontab.is_due
puts it) with the schedule's clock held at last_run_at; the fire
then becomes the next last_run_at.
"""
import json
import os
import sys
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')

import django  # noqa: E402

django.setup()

from django_celery_beat.models import PeriodicTask  # noqa: E402

after = datetime.fromisoformat(sys.argv[1])
count = int(sys.argv[2])
out = {}
for name in sys.argv[3:]:
    sched = PeriodicTask.objects.get(name=name).schedule
    last = after
    fires = []
    for _ in range(count):
        # TzAwareCrontab.is_due reads last_run_at in the row's zone before asking.
        if hasattr(sched, 'tz'):
            last = last.astimezone(sched.tz)
        sched.nowfun = lambda at=last: at
        fire = last + sched.remaining_estimate(last)
        fires.append(fire.astimezone(timezone.utc).isoformat())
        last = fire
    out[name] = fires
print(json.dumps(out))
