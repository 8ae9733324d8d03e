"""Entries from Celery's own objects, pinned in celery_forms.json.

The pin holds both sides: this file checks that each Celery object turns into the fixture's entry
and that Celery itself computes the fixture's fire times for it; test/cli/python-celery-forms.test.ts
checks that tsbeat's `beat next` reads the same entries into the same fire times (solar within a
minute, as docs/schedules.md promises) and that `beat check` accepts every one. Rewrite the fixture
after a deliberate change with TSBEAT_WRITE_FIXTURE=1.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest
from celery import chain, chord, group, signature
from celery.schedules import crontab, schedule, solar

from tsbeat import NotConvertible, entry, schedule_of, signature_of

FIXTURE = Path(__file__).with_name("celery_forms.json")
AFTER = datetime(2027, 1, 4, 0, 0, tzinfo=timezone.utc)  # a Monday
COUNT = 3


def add(*args: int) -> Any:
    return signature("proj.add", args=args)


CASES: Dict[str, Callable[[], Dict[str, Any]]] = {
    "crontab-weekdays": lambda: {"schedule": crontab(minute=0, hour="*/3", day_of_week="mon-fri"), "sig": add(1, 1)},
    "crontab-sets": lambda: {"schedule": crontab(minute={0, 30}, hour=9), "sig": add(1, 2)},
    "crontab-and-rule": lambda: {"schedule": crontab(minute=15, hour=6, day_of_month="1-7", day_of_week="fri"), "sig": add(1, 3)},
    "timedelta": lambda: {"schedule": timedelta(minutes=90), "sig": "proj.tick"},
    "schedule-object": lambda: {"schedule": schedule(run_every=timedelta(seconds=45)), "sig": "proj.tick"},
    "seconds": lambda: {"schedule": 600, "sig": "proj.tick"},
    "solar": lambda: {"schedule": solar("sunset", 52.52, 13.4), "sig": "proj.lights"},
    "chain": lambda: {"schedule": 3600, "sig": add(2, 2) | signature("proj.mul", args=(4,))},
    "group": lambda: {"schedule": 3600, "sig": group(add(1, 1), add(2, 2))},
    "chord": lambda: {"schedule": 3600, "sig": chord([add(1, 1), add(2, 2)], signature("proj.tsum"))},
    "chain-into-chord": lambda: {"schedule": 3600, "sig": chain(add(1, 1), group(add(2, 2), add(3, 3)), signature("proj.tsum"))},
    "options-and-callbacks": lambda: {
        "schedule": 3600,
        "sig": signature("proj.add", args=(1, 1), immutable=True, options={"queue": "reports", "priority": 5}).set(
            link=signature("proj.notify"), link_error=signature("proj.alert")
        ),
    },
}


def celery_fires(sched: Any) -> List[str]:
    """Celery's own next fires after AFTER, as beat's is_due computes them (test/support/celery_next_fires.py)."""
    from celery.schedules import maybe_schedule

    s = maybe_schedule(sched)
    last = AFTER
    fires = []
    for _ in range(COUNT):
        s.nowfun = lambda at=last: at
        fire = last + s.remaining_estimate(last)
        fires.append(fire.astimezone(timezone.utc).isoformat())
        last = fire + timedelta(minutes=1) if isinstance(s, solar) else fire
    return fires


def build() -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for name, case in CASES.items():
        made = case()
        record: Dict[str, Any] = {"entry": entry(made["schedule"], made["sig"], timezone="UTC")}
        if not isinstance(made["schedule"], int) or name == "seconds":
            record["fires"] = celery_fires(made["schedule"])
        out[name] = record
    return out


def test_pinned_forms_and_celerys_fires() -> None:
    built = build()
    if os.environ.get("TSBEAT_WRITE_FIXTURE"):
        FIXTURE.write_text(json.dumps(built, indent=2) + "\n")
    pinned = json.loads(FIXTURE.read_text())
    assert sorted(built) == sorted(pinned)
    for name in built:
        assert built[name] == pinned[name], name


def test_bad_objects_are_refused_naming_what_to_give() -> None:
    with pytest.raises(NotConvertible, match="give a timedelta"):
        schedule_of(object())
    with pytest.raises(NotConvertible, match="a bool is not a schedule"):
        schedule_of(True)
    with pytest.raises(NotConvertible, match="names no task"):
        signature_of({"args": [1]})
    with pytest.raises(NotConvertible, match="give a task name"):
        signature_of(42)


def test_strings_and_object_forms_pass_through_for_the_server_to_check() -> None:
    assert schedule_of("0 9 * * 1-5") == "0 9 * * 1-5"
    assert schedule_of({"cron": "0 9 * * 1-5"}) == {"cron": "0 9 * * 1-5"}
    assert signature_of("proj.tick") == {"task": "proj.tick"}
    assert entry(timedelta(hours=1), "proj.tick", labels={"team": "billing"}, enabled=False) == {
        "task": "proj.tick",
        "schedule": 3600,
        "labels": {"team": "billing"},
        "enabled": False,
    }
