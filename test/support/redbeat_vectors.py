"""Reference values for test/unit/redbeat.test.ts, computed by RedBeat's encoder and decoder as
copied in redbeat_client.py (from RedBeat's redbeat/decoder.py) and by dateutil / Celery:

- datetimes: RedBeat's JSON of tz-aware datetimes (zone names, fixed offsets, DST gaps and
  overlaps) with their instant; and the instants of JSON texts given on stdin, read with RedBeat's
  decoder (for tsbeat's encoder);
- schedules: RedBeat's JSON of interval, crontab and rrule schedules with their next fires after a
  given instant, as RedBeat's beat computes them (schedule.remaining_estimate, rrule.after).

Prints one JSON object.
"""
import json
import sys
from datetime import datetime, timedelta, timezone

from redbeat_client import RedBeatJSONDecoder, RedBeatJSONEncoder, from_timestamp, rrule
from celery import Celery
from celery.schedules import crontab
from dateutil.rrule import weekday

try:
    import zoneinfo
except ImportError:  # pragma: no cover
    zoneinfo = None

AFTER = 1767225600  # 2026-01-01T00:00:00Z


def datetimes():
    cases = [
        datetime(2026, 3, 29, 2, 30, tzinfo=zoneinfo.ZoneInfo('Europe/Berlin')),  # in the gap
        datetime(2026, 10, 25, 2, 30, tzinfo=zoneinfo.ZoneInfo('Europe/Berlin')),  # in the overlap, fold 0
        datetime(2026, 7, 1, 12, 0, 5, 250000, tzinfo=zoneinfo.ZoneInfo('America/New_York')),
        datetime(2026, 1, 5, 9, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(2026, 1, 5, 9, 30, tzinfo=timezone(timedelta(hours=-4))),
        datetime(2026, 1, 5, 9, 30, tzinfo=timezone.utc),
        datetime(2026, 1, 5, 9, 30),  # naive: RedBeat writes "UTC"
    ]
    out = []
    for dt in cases:
        text = json.dumps(dt, cls=RedBeatJSONEncoder)
        decoded = json.loads(text, cls=RedBeatJSONDecoder)
        out.append({'json': json.loads(text), 'epoch': decoded.timestamp()})
    return out


def fires(sched, count):
    """The next fires after AFTER as RedBeat's beat finds them running live: from each last run, with
    the schedule's clock at that run (Celery's crontab looks at its now to decide whether the rest of
    the hour is still to come)."""
    out = []
    last = from_timestamp(AFTER)
    for _ in range(count):
        if isinstance(sched, rrule):
            nxt = sched.rrule.after(last)
            if nxt is None:
                break
        else:
            sched.nowfun = lambda last=last: last
            start, delta, _now = sched.remaining_delta(last)
            nxt = sched.maybe_make_aware(start) + delta
        out.append(nxt.timestamp())
        last = nxt
    return out


def schedules():
    app = Celery(set_as_current=False)
    app.conf.timezone = 'UTC'
    start = from_timestamp(1767603600)  # Monday 2026-01-05 09:00 UTC
    cases = [
        crontab(minute='*/15', hour='9-17', day_of_week='mon-fri', app=app),
        crontab(minute=0, hour=3, day_of_month='1,15', app=app),
        crontab(minute=30, hour=8, day_of_week='sun', month_of_year='1-6', app=app),
        rrule(2, dtstart=start, byweekday=(weekday(0), weekday(4)), byhour=(9,), byminute=(30,), app=app),
        rrule(1, dtstart=from_timestamp(1767603600, 120), bymonthday=(-1,), count=4, app=app),
        rrule(3, dtstart=from_timestamp(1767603600, -300), interval=2, until=from_timestamp(1768608000), app=app),
        rrule(4, dtstart=start, interval=5, bysetpos=None, app=app),
    ]
    out = []
    for sched in cases:
        out.append({'json': json.loads(json.dumps(sched, cls=RedBeatJSONEncoder)), 'fires': fires(sched, 6)})
    return out


if __name__ == '__main__':
    texts = json.loads(sys.stdin.read() or '[]')
    decoded = [json.loads(t, cls=RedBeatJSONDecoder).timestamp() for t in texts]
    print(json.dumps({'after': AFTER, 'datetimes': datetimes(), 'schedules': schedules(), 'decoded': decoded}))
