"""A test client that writes and reads RedBeat's keys exactly as RedBeat does.

RedBeat is not packaged in Debian, so this file re-implements the parts of it the tests need, field
by field from RedBeat's source (github.com/sibson/redbeat, redbeat/schedulers.py and
redbeat/decoder.py), on Debian's python3-redis, python3-celery and python3-dateutil:

- RedBeatJSONEncoder.default / RedBeatJSONDecoder.dict_to_object (decoder.py): the typed JSON
  (datetime, interval, crontab, rrule, weekday), copied as they are;
- RedBeatConfig (schedulers.py): key_prefix (default 'redbeat:'), schedule_key = prefix +
  ':schedule', lock_key = prefix + ':lock';
- RedBeatSchedulerEntry.save, .delete, .due_at, .score, .decode_meta (schedulers.py): the same
  pipeline of HSET definition, HSETNX meta, ZADD schedule score; ZREM + DEL;
- acquire_distributed_beat_lock (schedulers.py): redis_client.lock(lock_key,
  timeout=lock_timeout, sleep=max_interval).acquire(), here non-blocking so that the test can
  see that it fails;
- redbeat.schedules.rrule: the attributes its encoder reads, on dateutil's rrule.

Usage: redbeat_client.py '<json request>'; prints a JSON reply. Or redbeat_client.py --serve: one
request a line on stdin, one reply a line on stdout (a writer of many saves, without a Python start
each). Requests:
  {"op": "save", "url", "prefix", "name", "task", "schedule": {"interval": s, "relative": b} |
      {"crontab": {minute, hour, ...}} | {"rrule": {freq, dtstart (epoch s), count, byweekday: [0..6], ...}},
      "args", "kwargs", "options", "enabled", "last_run_at" (epoch s, else now as Celery's ScheduleEntry sets it)}
  {"op": "delete", "url", "prefix", "name"}
  {"op": "read", "url", "prefix", "name"}  -> definition and meta decoded by RedBeat's decoder, score
  {"op": "lock", "url", "key", "timeout", "keep"}   -> {"acquired": bool}; released at once unless keep
  {"op": "tick", "url", "prefix", "name"}  -> RedBeat's beat's tick for that entry (RedBeatScheduler.schedule,
      maybe_due, reserve): when its score is due and its schedule is_due from its meta, the run's
      meta {last_run_at: now, total_run_count + 1} and next score written as _next_instance writes
      them, and {"sent": true, "last_run_at_epoch"}; else {"sent": false}. With "publish": true the
      run's message is then sent as RedBeat's beat sends it (celery's Scheduler.apply_async:
      app.send_task with the entry's args, kwargs and options, to the broker at "url"), and the reply
      has its task "id"; else the message is not published (the tests count RedBeat's runs from the replies)
"""

import calendar
import json
import sys
from datetime import datetime, timedelta, timezone

import redis
from celery import Celery
from celery.beat import ScheduleEntry
from celery.schedules import crontab, schedule
from dateutil.rrule import rrule as dateutil_rrule
from dateutil.rrule import weekday

try:
    import zoneinfo
except ImportError:  # pragma: no cover
    zoneinfo = None


# --- redbeat/decoder.py ---------------------------------------------------------------------


def to_timestamp(dt):
    """convert local tz aware datetime to seconds since the epoch"""
    return calendar.timegm(dt.utctimetuple())


def get_utcoffset_minutes(dt):
    utcoffset = dt.utcoffset()
    return utcoffset.total_seconds() / 60 if utcoffset else 0


def from_timestamp(seconds, tz_minutes=0):
    tz = timezone(timedelta(minutes=tz_minutes)) if tz_minutes else timezone.utc
    return datetime.fromtimestamp(seconds, tz=tz)


class rrule(schedule):
    """redbeat.schedules.rrule, the parts its encoder and due_at use."""

    def __init__(self, freq, dtstart=None, interval=1, wkst=None, count=None, until=None, bysetpos=None,
                 bymonth=None, bymonthday=None, byyearday=None, byeaster=None, byweekno=None,
                 byweekday=None, byhour=None, byminute=None, bysecond=None, **kwargs):
        super().__init__(run_every=1, **kwargs)
        dtstart = self.maybe_make_aware(dtstart) if dtstart else self.maybe_make_aware(self.now())
        until = self.maybe_make_aware(until) if until else None
        self.freq, self.dtstart, self.interval, self.wkst, self.count, self.until = freq, dtstart, interval, wkst, count, until
        self.bysetpos, self.bymonth, self.bymonthday, self.byyearday = bysetpos, bymonth, bymonthday, byyearday
        self.byeaster, self.byweekno, self.byweekday = byeaster, byweekno, byweekday
        self.byhour, self.byminute, self.bysecond = byhour, byminute, bysecond
        self.rrule = dateutil_rrule(freq, dtstart, interval, wkst, count, until, bysetpos, bymonth, bymonthday,
                                    byyearday, byeaster, byweekno, byweekday, byhour, byminute, bysecond)

    def remaining_estimate(self, last_run_at):
        last_run_at = self.maybe_make_aware(last_run_at)
        next_run = self.rrule.after(last_run_at)
        if next_run:
            return self.maybe_make_aware(next_run) - self.maybe_make_aware(self.now())
        return None


class RedBeatJSONDecoder(json.JSONDecoder):
    def __init__(self, *args, **kargs):
        super().__init__(object_hook=self.dict_to_object, *args, **kargs)

    def dict_to_object(self, d):
        if '__type__' not in d:
            return d
        objtype = d.pop('__type__')
        if objtype == 'datetime':
            zone = d.pop('timezone', 'UTC')
            try:
                tzinfo = timezone(timedelta(minutes=(zone / 60)))
            except TypeError:
                tzinfo = zoneinfo.ZoneInfo(zone)
            return datetime(tzinfo=tzinfo, **d)
        if objtype == 'interval':
            return schedule(run_every=d['every'], relative=d['relative'])
        if objtype == 'crontab':
            return crontab(**d)
        if objtype == 'weekday':
            return weekday(**d)
        if objtype == 'rrule':
            for key, tz_key in [('dtstart', 'dtstart_tz'), ('until', 'until_tz')]:
                timestamp = d.get(key)
                tz_minutes = d.pop(tz_key, 0)
                if timestamp is not None:
                    d[key] = from_timestamp(timestamp, tz_minutes)
            return rrule(**d)
        d['__type__'] = objtype
        return d


class RedBeatJSONEncoder(json.JSONEncoder):
    def default(self, obj):
        if isinstance(obj, datetime):
            if obj.tzinfo is None:
                tz = 'UTC'
            elif hasattr(obj.tzinfo, 'key'):
                tz = obj.tzinfo.key
            else:
                tz = obj.utcoffset().total_seconds()
            return {'__type__': 'datetime', 'year': obj.year, 'month': obj.month, 'day': obj.day,
                    'hour': obj.hour, 'minute': obj.minute, 'second': obj.second,
                    'microsecond': obj.microsecond, 'timezone': tz}
        if isinstance(obj, crontab):
            return {'__type__': 'crontab', 'minute': obj._orig_minute, 'hour': obj._orig_hour,
                    'day_of_week': obj._orig_day_of_week, 'day_of_month': obj._orig_day_of_month,
                    'month_of_year': obj._orig_month_of_year}
        if isinstance(obj, rrule):
            res = {'__type__': 'rrule', 'freq': obj.freq, 'interval': obj.interval, 'wkst': obj.wkst,
                   'count': obj.count, 'bysetpos': obj.bysetpos, 'bymonth': obj.bymonth,
                   'bymonthday': obj.bymonthday, 'byyearday': obj.byyearday, 'byeaster': obj.byeaster,
                   'byweekno': obj.byweekno, 'byweekday': obj.byweekday, 'byhour': obj.byhour,
                   'byminute': obj.byminute, 'bysecond': obj.bysecond}
            if obj.dtstart:
                res['dtstart'] = to_timestamp(obj.dtstart)
                res['dtstart_tz'] = get_utcoffset_minutes(obj.dtstart)
            if obj.until:
                res['until'] = to_timestamp(obj.until)
                res['until_tz'] = get_utcoffset_minutes(obj.until)
            return res
        if isinstance(obj, weekday):
            return {'__type__': 'weekday', 'wkday': obj.weekday}
        if isinstance(obj, schedule):
            return {'__type__': 'interval', 'every': obj.run_every.total_seconds(), 'relative': bool(obj.relative)}
        return super().default(obj)


# --- redbeat/schedulers.py ------------------------------------------------------------------


class RedBeatSchedulerEntry(ScheduleEntry):
    def __init__(self, prefix, client, name=None, task=None, schedule=None, args=None, kwargs=None,
                 enabled=True, options=None, **clsargs):
        super().__init__(name=str(name), task=task, schedule=schedule, args=args, kwargs=kwargs,
                         options=options, **clsargs)
        self.enabled = enabled
        self.prefix = prefix
        self.client = client

    @property
    def key(self):
        return self.prefix + self.name

    @property
    def schedule_key(self):
        return self.prefix + ':schedule'

    @property
    def due_at(self):
        if self.last_run_at is None:
            return self._default_now()
        delta = self.schedule.remaining_estimate(self.last_run_at)
        if delta is None:
            return None
        if delta.total_seconds() < 0:
            return self._default_now()
        return self.last_run_at + delta

    @property
    def score(self):
        if self.due_at is None:
            return -1
        return to_timestamp(self.due_at)

    def save(self):
        definition = {'name': self.name, 'task': self.task, 'args': self.args, 'kwargs': self.kwargs,
                      'options': self.options, 'schedule': self.schedule, 'enabled': self.enabled}
        meta = {'last_run_at': self.last_run_at}
        with self.client.pipeline() as pipe:
            pipe.hset(self.key, 'definition', json.dumps(definition, cls=RedBeatJSONEncoder))
            pipe.hsetnx(self.key, 'meta', json.dumps(meta, cls=RedBeatJSONEncoder))
            pipe.zadd(self.schedule_key, {self.key: self.score})
            pipe.execute()
        return self

    def delete(self):
        with self.client.pipeline() as pipe:
            pipe.zrem(self.schedule_key, self.key)
            pipe.delete(self.key)
            pipe.execute()


def decode_meta(meta):
    if not meta:
        return {'last_run_at': None}
    return json.loads(meta, cls=RedBeatJSONDecoder)


# --- the requests ---------------------------------------------------------------------------


def make_schedule(spec, app):
    if 'interval' in spec:
        return schedule(run_every=spec['interval'], relative=spec.get('relative', False), app=app)
    if 'crontab' in spec:
        return crontab(app=app, **spec['crontab'])
    if 'rrule' in spec:
        r = dict(spec['rrule'])
        for key in ('dtstart', 'until'):
            if key in r:
                r[key] = from_timestamp(r[key], r.pop(key + '_tz', 0))
        if 'byweekday' in r:
            r['byweekday'] = tuple(weekday(w) for w in r['byweekday'])
        return rrule(app=app, **r)
    raise ValueError('unknown schedule %r' % (spec,))


_publishers = {}


def publisher(url):
    """One Celery app a broker URL, kept for the process: its producer pool is reused by each run sent."""
    if url not in _publishers:
        app = Celery(set_as_current=False, broker=url)
        app.conf.timezone = 'UTC'
        _publishers[url] = app
    return _publishers[url]


def handle(req):
    """One request; returns its reply."""
    client = redis.Redis.from_url(req['url'], decode_responses=True)
    op = req['op']
    if op == 'lock':
        # acquire_distributed_beat_lock: timeout=lock_timeout, sleep=max_interval; blocking=False here.
        lock = client.lock(req['key'], timeout=req.get('timeout', 1500), sleep=5)
        acquired = lock.acquire(blocking=False)
        if acquired and not req.get('keep'):
            lock.release()
        return {'acquired': bool(acquired)}
    app = Celery(set_as_current=False)
    app.conf.timezone = 'UTC'
    prefix = req.get('prefix', 'redbeat:')
    name = req['name']
    if op == 'save':
        entry = RedBeatSchedulerEntry(prefix, client, name=name, task=req['task'],
                                      schedule=make_schedule(req['schedule'], app), args=req.get('args'),
                                      kwargs=req.get('kwargs'), options=req.get('options'),
                                      enabled=req.get('enabled', True), app=app,
                                      last_run_at=from_timestamp(req['last_run_at']) if req.get('last_run_at') else None)
        entry.save()
        return {'key': entry.key, 'score': client.zscore(prefix + ':schedule', entry.key)}
    elif op == 'delete':
        RedBeatSchedulerEntry(prefix, client, name=name, task='x', schedule=schedule(run_every=1), app=app).delete()
        return {'deleted': name}
    elif op == 'tick':
        key = prefix + name
        due = client.zrangebyscore(prefix + ':schedule', 0, to_timestamp(app.now()))
        if key not in due:
            return {'sent': False}
        definition, meta = client.hmget(key, 'definition', 'meta')
        definition = json.loads(definition, cls=RedBeatJSONDecoder)
        meta = decode_meta(meta)
        definition.pop('name', None)
        entry = RedBeatSchedulerEntry(prefix, client, name=name, app=app, total_run_count=meta.get('total_run_count') or 0,
                                      **definition)
        # from_key: celery's ScheduleEntry sets last_run_at = now; RedBeat puts the meta's back.
        entry.last_run_at = meta['last_run_at']
        # is_due: a disabled entry waits; else the schedule's is_due from the last run (MINYEAR when none).
        if not entry.enabled:
            return {'sent': False}
        is_due, _ = entry.schedule.is_due(entry.last_run_at or datetime(1, 1, 2, tzinfo=timezone.utc))
        if not is_due:
            return {'sent': False}
        # reserve -> _next_instance: celery's next instance (last_run_at = now, count + 1), then RedBeat's writes.
        last_run_at = entry.default_now()
        following = RedBeatSchedulerEntry(prefix, client, name=name, task=entry.task, schedule=entry.schedule, app=app,
                                          last_run_at=last_run_at, total_run_count=entry.total_run_count + 1)
        meta = {'last_run_at': following.last_run_at, 'total_run_count': following.total_run_count}
        with client.pipeline() as pipe:
            pipe.hset(key, 'meta', json.dumps(meta, cls=RedBeatJSONEncoder))
            pipe.zadd(prefix + ':schedule', {key: following.score})
            pipe.execute()
        reply = {'sent': True, 'last_run_at_epoch': last_run_at.timestamp()}
        if req.get('publish'):
            # Scheduler.tick: reserve (the writes above), then apply_entry -> apply_async -> send_task.
            reply['id'] = publisher(req['url']).send_task(entry.task, entry.args, entry.kwargs, **(entry.options or {})).id
        return reply
    elif op == 'read':
        key = prefix + name
        definition, meta = client.hmget(key, 'definition', 'meta')
        decoded = decode_meta(meta)
        last = decoded.get('last_run_at')
        return {
            'exists': definition is not None,
            'meta_text': meta,
            'last_run_at': last.isoformat() if last else None,
            'last_run_at_epoch': last.timestamp() if last else None,
            'total_run_count': decoded.get('total_run_count'),
            'score': client.zscore(prefix + ':schedule', key),
        }
    raise ValueError('unknown op %r' % (op,))


def serve():
    """--serve: one JSON request a line on stdin, one JSON reply a line on stdout (an error as {"error"})."""
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = handle(json.loads(line))
        except Exception as exc:  # the test shows the error
            reply = {'error': f'{type(exc).__name__}: {exc}'}
        sys.stdout.write(json.dumps(reply) + '\n')
        sys.stdout.flush()


if __name__ == '__main__':
    if sys.argv[1] == '--serve':
        serve()
    else:
        print(json.dumps(handle(json.loads(sys.argv[1]))))
