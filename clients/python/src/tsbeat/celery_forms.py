"""Entries written from Celery's own objects: schedules, signatures and canvases.

``entry(crontab(hour=7, minute=0), add.s(2, 2) | mul.s(4))`` is the entry tsbeat runs for what a
``beat_schedule`` holds: the schedule in tsbeat's form (docs/schedules.md) and the signature or canvas
in tsbeat's (docs/canvas.md). Celery itself is not imported: the objects are read by what they hold
(a crontab's fields as written, a signature as the dict Celery serializes), so this module works with
every Celery 5 and needs Celery only where the caller built the objects with it.
"""
from __future__ import annotations

import datetime
import numbers
from typing import Any, Dict, List, Mapping, Optional, Union

Schedule = Union[int, float, str, Dict[str, Any]]

# Celery's crontab keeps each field as the caller wrote it in `_orig_<field>` (django-celery-beat's
# CrontabSchedule.from_schedule and RedBeat read the same attributes); tsbeat's crontab takes the
# same five fields under the same names.
_CRONTAB_FIELDS = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")
# Options Celery puts on a signature that are the canvas's own structure or per-send ids, never an
# entry's option: the callbacks become `link`/`linkError`, the rest is Celery's to fill in per run.
_NOT_OPTIONS = {"link", "link_error", "task_id", "parent_id", "root_id", "group_id", "chord", "reply_to"}


class NotConvertible(TypeError):
    """An object that has no tsbeat form, naming what it was and what to give instead."""


def schedule_of(value: Any) -> Schedule:
    """tsbeat's form of a Celery schedule: a number of seconds, a crontab line or an object form.

    Takes ``timedelta``, a number of seconds, Celery's ``schedule(run_every=...)``, ``crontab(...)``
    and ``solar(...)``; a ``str`` (a crontab line, ``30s``, an rrule) or a ``dict`` (an object form)
    is passed on as it is, for the server to check.
    """
    if isinstance(value, bool):
        raise NotConvertible(f"schedule {value!r}: a bool is not a schedule; give a timedelta, seconds or crontab(...)")
    if isinstance(value, datetime.timedelta):
        return _seconds(value)
    if isinstance(value, numbers.Real):
        return _number(float(value))
    if isinstance(value, (str, dict)):
        return value
    kind = type(value).__name__
    if kind == "crontab" and all(hasattr(value, f"_orig_{f}") for f in _CRONTAB_FIELDS):
        return {"crontab": {f: _crontab_field(getattr(value, f"_orig_{f}")) for f in _CRONTAB_FIELDS}}
    if kind == "solar" and all(hasattr(value, a) for a in ("event", "lat", "lon")):
        return {"solar": {"event": str(value.event), "lat": float(value.lat), "lon": float(value.lon)}}
    run_every = getattr(value, "run_every", None)
    if isinstance(run_every, datetime.timedelta):
        return _seconds(run_every)
    raise NotConvertible(
        f"schedule {value!r} ({kind}): give a timedelta, a number of seconds, crontab(...), solar(...), "
        "schedule(run_every=...), a crontab line or an object form of docs/schedules.md"
    )


def signature_of(value: Any) -> Dict[str, Any]:
    """tsbeat's form of a signature or canvas: ``{task, args, kwargs, options, immutable, link, linkError}``,
    or ``{chain: [...]}``, ``{group: [...]}``, ``{chord: {header, body}}``.

    Reads the dict Celery serializes a signature as (``dict(sig)``), so ``add.s(2, 2) | mul.s(4)``,
    ``group(...)``, ``chord(...)(body)`` and a signature already turned into a dict all work.
    """
    if isinstance(value, str):
        return {"task": value}
    if not isinstance(value, Mapping):
        raise NotConvertible(f"{value!r}: give a task name, a signature (add.s(2, 2)) or a canvas (chain, group, chord)")
    sig: Mapping[str, Any] = value
    kind = sig.get("subtask_type")
    kwargs = sig.get("kwargs") or {}
    if kind == "chain":
        out: Dict[str, Any] = {"chain": [signature_of(step) for step in _tasks(kwargs.get("tasks"))]}
    elif kind == "group":
        out = {"group": [signature_of(member) for member in _tasks(kwargs.get("tasks"))]}
    elif kind == "chord":
        header = kwargs.get("header")
        header_tasks = _tasks(header.get("kwargs", {}).get("tasks")) if isinstance(header, Mapping) and header.get("subtask_type") == "group" else _tasks(header)
        out = {"chord": {"header": [signature_of(member) for member in header_tasks], "body": signature_of(kwargs.get("body"))}}
    elif kind is None:
        task = sig.get("task")
        if not isinstance(task, str) or task == "":
            raise NotConvertible(f"signature {dict(sig)!r}: it names no task")
        out = {"task": task}
        if sig.get("args"):
            out["args"] = list(sig["args"])
        if kwargs:
            out["kwargs"] = dict(kwargs)
        if sig.get("immutable"):
            out["immutable"] = True
    else:
        raise NotConvertible(f"a canvas of kind {kind!r}: tsbeat runs a task, chain, group or chord (docs/canvas.md)")
    options = dict(sig.get("options") or {})
    options_out = {k: v for k, v in options.items() if k not in _NOT_OPTIONS}
    if options_out and kind in (None, "chain"):
        out["options"] = options_out
    elif options_out:
        raise NotConvertible(f"options {sorted(options_out)} on a {kind}: tsbeat takes options on a task or a chain's steps")
    for key, name in (("link", "link"), ("link_error", "linkError")):
        callbacks = options.get(key)
        if callbacks:
            out[name] = [signature_of(c) for c in (callbacks if isinstance(callbacks, (list, tuple)) else [callbacks])]
    return out


def entry(
    schedule: Any,
    signature: Any,
    *,
    labels: Optional[Mapping[str, str]] = None,
    owner: Optional[str] = None,
    timezone: Optional[str] = None,
    enabled: Optional[bool] = None,
    **more: Any,
) -> Dict[str, Any]:
    """The entry for a schedule and a signature (or canvas, or task name), as ``PUT /api/entries/NAME`` takes it.

    ``more`` are further entry keys as docs/configuration.md names them (``exclude``, ``overlap``, ...).
    """
    out: Dict[str, Any] = {**signature_of(signature), "schedule": schedule_of(schedule)}
    # `.si()` keeps a step from taking its parent's result; an entry's own task has no parent, so an
    # entry has no such key (its chain's steps keep theirs).
    out.pop("immutable", None)
    if labels is not None:
        out["labels"] = dict(labels)
    if owner is not None:
        out["owner"] = owner
    if timezone is not None:
        out["timezone"] = timezone
    if enabled is not None:
        out["enabled"] = enabled
    out.update(more)
    return out


def _tasks(value: Any) -> List[Any]:
    if value is None:
        return []
    if isinstance(value, Mapping):  # a group given where a list of tasks is expected
        return [value]
    return list(value)


def _crontab_field(value: Any) -> Union[int, str, List[int]]:
    if isinstance(value, bool):
        raise NotConvertible(f"crontab field {value!r}: give a number, a string or a set of numbers")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return value
    if isinstance(value, (set, frozenset, list, tuple, range)):
        return sorted(int(v) for v in value)
    raise NotConvertible(f"crontab field {value!r}: give a number, a string or a set of numbers")


def _seconds(delta: datetime.timedelta) -> Union[int, float]:
    return _number(delta.total_seconds())


def _number(seconds: float) -> Union[int, float]:
    return int(seconds) if seconds.is_integer() else seconds
