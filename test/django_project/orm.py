#!/usr/bin/env python3
"""Edits django-celery-beat's rows through Django's ORM, as an application or the admin would.

Reads one JSON command per line on stdin, answers one JSON line each on stdout:
  {"op": "create", "name": ..., "task": ..., "interval": {"every": 1, "period": "seconds"}
     | "crontab": {"minute": "*", ..., "timezone": "Europe/Berlin"} | "solar": {...} | "clocked": "ISO",
     "args": [...], "kwargs": {...}, "queue": ..., "one_off": bool, "start_time": "ISO", "expires": "ISO",
     "expire_seconds": n, "headers": {...}, "priority": n, "enabled": bool}
  {"op": "edit", "name": ..., <fields as above>}
  {"op": "disable" | "enable" | "delete", "name": ...}
  {"op": "get", "name": ...}  -> the row's enabled, last_run_at, total_run_count
  {"op": "edit_interval", "every": n, "period": p, "to": m}  -> that IntervalSchedule row's every := m
  {"op": "update_changed"}    -> PeriodicTasks.update_changed()
  {"op": "admin_add", "name": ..., "task": ..., "interval": {...}, "args": [...]}
                              -> posted through the admin's add form (Django's test client)
  {"op": "bulk_update", "names": [...], "fields": {...}}  -> queryset.update(), which bypasses the signals
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.dateparse import parse_datetime as parse_iso  # noqa: E402
from django_celery_beat.models import (  # noqa: E402
    ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks, SolarSchedule)

DATETIMES = ('start_time', 'expires')


def parse_datetime(text):
    """An ISO text as the project stores it: aware with USE_TZ, else a naive wall time in TIME_ZONE."""
    value = parse_iso(text)
    if not settings.USE_TZ and timezone.is_aware(value):
        value = timezone.make_naive(value)
    return value
PLAIN = ('task', 'queue', 'exchange', 'routing_key', 'priority', 'one_off', 'enabled', 'expire_seconds', 'description')


def schedule_fields(cmd):
    out = {}
    if 'interval' in cmd:
        out['interval'], _ = IntervalSchedule.objects.get_or_create(**cmd['interval'])
    if 'crontab' in cmd:
        out['crontab'], _ = CrontabSchedule.objects.get_or_create(**cmd['crontab'])
    if 'solar' in cmd:
        out['solar'], _ = SolarSchedule.objects.get_or_create(**cmd['solar'])
    if 'clocked' in cmd:
        out['clocked'], _ = ClockedSchedule.objects.get_or_create(clocked_time=parse_datetime(cmd['clocked']))
    if out:
        for kind in ('interval', 'crontab', 'solar', 'clocked'):
            out.setdefault(kind, None)
    return out


def apply(task, cmd):
    for key, value in schedule_fields(cmd).items():
        setattr(task, key, value)
    for key in PLAIN:
        if key in cmd:
            setattr(task, key, cmd[key])
    for key in DATETIMES:
        if key in cmd:
            setattr(task, key, None if cmd[key] is None else parse_datetime(cmd[key]))
    for key in ('args', 'kwargs', 'headers'):
        if key in cmd:
            setattr(task, key, json.dumps(cmd[key]))
    task.save()


def aware_iso(value):
    """A stored datetime as ISO with its offset (a naive one is a wall time in TIME_ZONE)."""
    if value is None:
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value.isoformat()


def row(task):
    task.refresh_from_db()
    return {
        'name': task.name,
        'enabled': task.enabled,
        'last_run_at': aware_iso(task.last_run_at),
        'total_run_count': task.total_run_count,
        'date_changed': aware_iso(task.date_changed),
    }


def locked(name):
    """The row, locked until the transaction ends: save() writes back every column it read,
    total_run_count and last_run_at too, so a run written back between an unlocked read and the
    save would be lost from the count (the admin's read-modify-write races a scheduler's writes so)."""
    return PeriodicTask.objects.select_for_update().get(name=name)


def handle(cmd):
    op = cmd['op']
    if op == 'create':
        task = PeriodicTask(name=cmd['name'])
        apply(task, cmd)
        return row(task)
    if op == 'edit':
        with transaction.atomic():
            task = locked(cmd['name'])
            if 'new_name' in cmd:
                task.name = cmd['new_name']
            apply(task, cmd)
        return row(task)
    if op == 'edit_interval':
        schedule = IntervalSchedule.objects.get(every=cmd['every'], period=cmd['period'])
        schedule.every = cmd['to']
        schedule.save()
        return {'id': schedule.id}
    if op in ('enable', 'disable'):
        with transaction.atomic():
            task = locked(cmd['name'])
            task.enabled = op == 'enable'
            task.save()
        return row(task)
    if op == 'delete':
        PeriodicTask.objects.get(name=cmd['name']).delete()
        return {'deleted': cmd['name']}
    if op == 'get':
        return row(PeriodicTask.objects.get(name=cmd['name']))
    if op == 'update_changed':
        PeriodicTasks.update_changed()
        return {'ok': True}
    if op == 'bulk_update':
        fields = dict(cmd['fields'])
        for key in (*DATETIMES, 'date_changed', 'last_run_at'):
            if isinstance(fields.get(key), str):
                fields[key] = parse_datetime(fields[key])
        count = PeriodicTask.objects.filter(name__in=cmd['names']).update(**fields)
        return {'updated': count}
    if op == 'admin_add':
        return admin_add(cmd)
    raise ValueError(f'unknown op {op!r}')


def admin_add(cmd):
    """Posts the admin's own add form, as a user clicking "Save" does (Django's test client)."""
    from django.contrib.auth.models import User
    from django.test import Client

    user = User.objects.filter(username='admin').first() or User.objects.create_superuser('admin', 'admin@example.com', 'pw')
    client = Client()
    client.force_login(user)
    interval, _ = IntervalSchedule.objects.get_or_create(**cmd['interval'])
    data = {
        'name': cmd['name'],
        'regtask': '',
        'task': cmd['task'],
        'enabled': 'on',
        'description': '',
        'interval': str(interval.id),
        'crontab': '',
        'solar': '',
        'clocked': '',
        'start_time_0': '',
        'start_time_1': '',
        'last_run_at_0': '',
        'last_run_at_1': '',
        'args': json.dumps(cmd.get('args', [])),
        'kwargs': json.dumps(cmd.get('kwargs', {})),
        'expires_0': '',
        'expires_1': '',
        'expire_seconds': '',
        'queue': cmd.get('queue', ''),
        'exchange': '',
        'routing_key': '',
        'priority': '',
        'headers': '{}',
        '_save': 'Save',
    }
    response = client.post('/admin/django_celery_beat/periodictask/add/', data)
    if response.status_code != 302:
        raise ValueError(f'the admin answered {response.status_code}: {response.content.decode()[:2000]}')
    return row(PeriodicTask.objects.get(name=cmd['name']))


for line in sys.stdin:
    if not line.strip():
        continue
    try:
        answer = handle(json.loads(line))
    except Exception as exc:  # the test shows the error
        answer = {'error': f'{type(exc).__name__}: {exc}'}
        # A connection the database dropped (a restart) stays broken outside a request cycle: close
        # it, so that the next command connects again.
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - already gone
            pass
    sys.stdout.write(json.dumps(answer) + '\n')
    sys.stdout.flush()
