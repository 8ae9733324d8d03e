"""Ask Celery (celery.schedules.solar, PyEphem) when solar events happen; used by test/unit/solar.test.ts.

stdin: a JSON list of cases {"event", "lat", "lon", "after_ms", "chain"}.
stdout: a JSON list with, per case:
  "celery":   what `solar(...).remaining_estimate(last_run_at)` answers, as {"ms": <epoch ms>},
              {"error": "<ExceptionType>: <message>"} (its circumpolar branch raises a TypeError)
              or {"hang": true};
  "intended": what Celery means to do in the circumpolar case ("check again one minute after the
              next anti-transit"), done with the same Observer and method: {"ms", "skips"}, null
              when no event happens within 400 such retries, or {"hang": true} when PyEphem's
              rise/set iteration does not finish (it loops forever on some days near the poles,
              e.g. dawn_nautical at 89 N on 2027-02-14);
  "chain":    `chain` events in a row, each asked with last_run_at = the first whole millisecond
              after the previous one.
With --probe, only checks that celery and ephem import.

dusk_astronomical: Celery <= 5.6.2 (Debian ships 5.2.6) has horizon '18' instead of '-18'
(celery#10101, fixed in 5.6.3); the fixed value is used and the installed one is reported.
"""
import json
import math
import signal
import sys
from datetime import datetime, timezone

import ephem
from celery.schedules import solar

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
HANG_SECONDS = 5.0


class Hang(Exception):
    pass


def _on_alarm(signum, frame):
    raise Hang('PyEphem did not finish in %s s' % HANG_SECONDS)


signal.signal(signal.SIGPROF, _on_alarm)


def bounded(fn, *args):
    signal.setitimer(signal.ITIMER_PROF, HANG_SECONDS)
    try:
        return fn(*args)
    except Hang:
        return {'hang': True}
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)


def to_ms(dt):
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return (dt - EPOCH).total_seconds() * 1000.0


def from_ms(ms):
    return datetime.fromtimestamp(ms / 1000.0, tz=timezone.utc)


def make(event, lat, lon, now_ms):
    now = from_ms(now_ms)
    sched = solar(event, lat, lon, nowfun=lambda: now)
    installed = str(sched.cal.horizon)
    if event == 'dusk_astronomical':
        sched.cal.horizon = '-18'
    return sched, installed


def ask_celery(event, lat, lon, after_ms):
    sched, _ = make(event, lat, lon, after_ms)
    try:
        rem = sched.remaining_estimate(from_ms(after_ms))
    except Hang:
        raise
    except Exception as exc:  # the circumpolar branch: ephem.Date + timedelta
        return {'error': '%s: %s' % (type(exc).__name__, exc)}
    return {'ms': after_ms + rem.total_seconds() * 1000.0}


def ask_intended(event, lat, lon, after_ms):
    sched, _ = make(event, lat, lon, after_ms)
    cal = sched.cal
    start = ephem.Date(from_ms(after_ms))
    for skips in range(400):
        cal.date = start
        try:
            kwargs = {'use_center': True} if sched.use_center else {}
            found = getattr(cal, sched.method)(ephem.Sun(), start=start, **kwargs)
        except ephem.CircumpolarError:
            start = ephem.Date(cal.next_antitransit(ephem.Sun()) + ephem.minute)
            continue
        return {'ms': to_ms(found.datetime()), 'skips': skips}
    return None


def main():
    if '--probe' in sys.argv:
        print(json.dumps({'celery': __import__('celery').__version__, 'ephem': ephem.__version__}))
        return
    out = []
    for case in json.load(sys.stdin):
        event, lat, lon, after_ms = case['event'], case['lat'], case['lon'], case['after_ms']
        _, installed = make(event, lat, lon, after_ms)
        chain = []
        prev = after_ms
        for _ in range(case.get('chain', 0)):
            got = bounded(ask_intended, event, lat, lon, prev)
            if got is None or 'hang' in got:
                break
            chain.append(got['ms'])
            # The first whole millisecond after the event: PyEphem treats a start within 0.2 ms
            # before a transit as before it, and would answer the same transit again.
            prev = math.floor(got['ms']) + 1
        out.append({
            'celery': bounded(ask_celery, event, lat, lon, after_ms),
            'intended': bounded(ask_intended, event, lat, lon, after_ms),
            'chain': chain,
            'installed_horizon': installed,
        })
    json.dump(out, sys.stdout)


main()
