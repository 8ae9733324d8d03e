"""Ask Python's dateutil.rrule (Debian's python3-dateutil) for a rule's occurrences; used by test/unit/rrule.test.ts.

stdin: a JSON list of cases {"rule": "<RRULE text>", "dtstart": "YYYY-MM-DDTHH:MM:SS", "after": "...", "count": n}.
stdout: a JSON list with, per case, {"walls": ["YYYY-MM-DDTHH:MM:SS", ...]} (the first `count` occurrences
strictly after `after`, naive wall times), {"error": "<ExceptionType>: <message>"} when dateutil refuses
the rule, or {"hang": true} when it does not answer within HANG_SECONDS of its own CPU time (a rule that never
matches; CPU, not wall time, so that a loaded machine does not make a slow answer a hang).
With --probe, only checks that dateutil imports.
"""
import json
import signal
import sys
from datetime import datetime

from dateutil.rrule import rrulestr

HANG_SECONDS = 1


class Hang(Exception):
    pass


def _on_alarm(signum, frame):
    raise Hang()


def answer(case):
    dtstart = datetime.fromisoformat(case["dtstart"])
    after = datetime.fromisoformat(case["after"])
    try:
        rule = rrulestr(case["rule"], dtstart=dtstart)
        signal.setitimer(signal.ITIMER_PROF, HANG_SECONDS)
        try:
            walls = []
            for occurrence in rule.xafter(after, count=case["count"], inc=False):
                walls.append(occurrence.isoformat())
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
        return {"walls": walls}
    except Hang:
        return {"hang": True}
    except Exception as error:  # dateutil raises ValueError for rules it refuses
        return {"error": "%s: %s" % (type(error).__name__, error)}


def main():
    if "--probe" in sys.argv:
        return
    signal.signal(signal.SIGPROF, _on_alarm)
    cases = json.load(sys.stdin)
    json.dump([answer(case) for case in cases], sys.stdout)


main()
