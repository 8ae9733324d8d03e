/**
 * The Python that `beat import celery` runs in the team's own interpreter: it imports the app as
 * `celery -A` does (celery.app.utils.find_app, the working directory first on sys.path) and prints
 * one JSON document describing `app.conf.beat_schedule` and the settings tsbeat reads. It reads
 * Celery's schedule objects by the attributes celery/schedules.py gives them (schedule.run_every
 * and .relative; crontab._orig_minute… as written and .minute… as expanded sets; solar.event, .lat,
 * .lon), and only of those exact classes: a subclass may compute its times otherwise, and is
 * reported as a custom schedule. Values JSON cannot hold are marked, never guessed.
 *
 * With a second argument, celery beat's schedule file (PersistentScheduler's shelve): each
 * entry's last_run_at (epoch seconds, read as celery beat reads it) and total_run_count, and
 * whether celery beat would reset the file (another time zone or enable_utc, an old layout). Its
 * pickles are read by an unpickler that takes only the classes celery beat writes there; exit 3
 * with {"error": {"kind": "schedule-file-refused"}} naming any other.
 *
 * Anything the app prints while importing goes to stderr, so that stdout holds the JSON alone.
 * Exit 3 with {"error": …} when the app cannot be imported.
 */
export const CELERY_DUMP_SCRIPT = String.raw`
import datetime, json, math, numbers, os, re, sys, traceback

real_stdout = sys.stdout
sys.stdout = sys.stderr
sys.path.insert(0, os.getcwd())

def fail(kind, message):
    real_stdout.write(json.dumps({'error': {'kind': kind, 'message': message}}))
    real_stdout.flush()
    sys.exit(3)

try:
    import celery
    from celery.app.utils import find_app
    from celery.schedules import crontab, schedule, solar
    app = find_app(sys.argv[1])
    if not isinstance(app, celery.Celery):
        fail('not-app', '%s is a %s, not a Celery app' % (sys.argv[1], type(app).__name__))
    conf = app.conf
    beat_schedule = conf.beat_schedule or {}
except SystemExit:
    raise
except BaseException as error:
    traceback.print_exc()
    last = traceback.format_exception_only(type(error), error)[-1].strip()
    fail('import', last)

def type_name(value):
    t = type(value)
    return '%s.%s' % (t.__module__, t.__qualname__)

def enc(value):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {'__tsbeat__': 'unsupported', 'type': 'float', 'repr': repr(value)}
    if isinstance(value, (list, tuple)):
        return [enc(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: enc(v) for k, v in value.items()}
    if isinstance(value, datetime.datetime):
        return {'__tsbeat__': 'datetime', 'iso': value.isoformat(), 'naive': value.tzinfo is None}
    return {'__tsbeat__': 'unsupported', 'type': type_name(value), 'repr': repr(value)[:200]}

def field(value):
    if isinstance(value, (set, frozenset, range)):
        return sorted(value)
    return enc(value)

CRON_FIELDS = ('minute', 'hour', 'day_of_week', 'day_of_month', 'month_of_year')

def schedule_of(value, relative):
    if isinstance(value, bool):
        return {'type': 'unknown', 'class': 'bool', 'repr': repr(value)}
    if isinstance(value, numbers.Real):
        return {'type': 'interval', 'seconds': float(value), 'relative': bool(relative)}
    if isinstance(value, datetime.timedelta):
        return {'type': 'interval', 'seconds': value.total_seconds(), 'relative': bool(relative)}
    t = type(value)
    custom_now = getattr(value, 'nowfun', None) is not None
    if t is schedule:
        return {'type': 'interval', 'seconds': value.run_every.total_seconds(), 'relative': bool(value.relative), 'nowfun': custom_now}
    if t is crontab:
        return {
            'type': 'crontab',
            'orig': {f: field(getattr(value, '_orig_' + f)) for f in CRON_FIELDS},
            'sets': {f: sorted(getattr(value, f)) for f in CRON_FIELDS},
            'nowfun': custom_now,
        }
    if t is solar:
        return {'type': 'solar', 'event': value.event, 'lat': enc(value.lat), 'lon': enc(value.lon), 'nowfun': custom_now}
    return {'type': 'unknown', 'class': type_name(value), 'repr': repr(value)[:200]}

def route_value(value):
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            name = getattr(v, 'name', None)
            out[str(k)] = name if k in ('queue', 'exchange') and isinstance(name, str) and not isinstance(v, str) else enc(v)
        return out
    return enc(value)

def routes_of(routes):
    if routes is None:
        return None
    maps = list(routes) if isinstance(routes, (list, tuple)) else [routes]
    out = []
    for m in maps:
        if isinstance(m, dict):
            rules = []
            for k, v in m.items():
                if isinstance(k, re.Pattern):
                    key = {'regex': k.pattern if isinstance(k.pattern, str) else repr(k.pattern), 'flags': int(k.flags)}
                else:
                    key = {'text': str(k)}
                rules.append({'key': key, 'route': route_value(v)})
            out.append({'rules': rules})
        else:
            out.append({'router': repr(m)[:200]})
    return out

entries = []
for name, entry in beat_schedule.items():
    if not isinstance(entry, dict):
        entries.append({'name': str(name), 'invalid': 'not a dict but a %s' % type_name(entry)})
        continue
    relative = entry.get('relative', False)
    options = entry.get('options') or {}
    entries.append({
        'name': str(name),
        'task': entry.get('task'),
        'schedule': schedule_of(entry.get('schedule'), relative),
        'args': enc(entry.get('args') if entry.get('args') is not None else []),
        'kwargs': enc(entry.get('kwargs') or {}),
        'options': {str(k): route_value(v) if k in ('queue', 'exchange') else enc(v) for k, v in options.items()} if isinstance(options, dict) else enc(options),
        'extra_keys': sorted(str(k) for k in entry if k not in ('task', 'schedule', 'args', 'kwargs', 'options', 'relative')),
    })

def setting(name):
    try:
        return conf.get(name)
    except Exception:
        return None

# What celery beat's schedule file holds, by the classes its pickles name (celery/beat.py pickles
# ScheduleEntry, whose __reduce__ names its schedule, datetimes and the entry's args, kwargs and
# options): anything else is refused, because unpickling calls what the file names and a crafted
# file would run code as whoever imports it. A crontab field written as a range names range, sets
# and frozensets are named by pickle protocols < 4; pytz's and zoneinfo's time zones by their own
# pickling (zoneinfo's as getattr(ZoneInfo, '_unpickle'), the one getattr allowed); kombu's Queue
# and Exchange, OrderedDict, Decimal and UUID are values an entry's options, args and kwargs may
# hold. The app's own schedule classes (a custom one) are allowed too: its code was just imported.
SCHEDULE_FILE_CLASSES = {
    'celery.beat': {'ScheduleEntry'},
    'celery.schedules': {'schedule', 'crontab', 'solar'},
    'datetime': {'datetime', 'date', 'time', 'timedelta', 'timezone'},
    'builtins': {'range', 'set', 'frozenset', 'getattr'},
    'pytz': {'_UTC', '_p', 'FixedOffset'},
    'zoneinfo': {'ZoneInfo'},
    'kombu.entity': {'Queue', 'Exchange', 'binding'},
    'kombu.abstract': {'unpickle_dict'},
    'collections': {'OrderedDict'},
    'decimal': {'Decimal'},
    'uuid': {'UUID'},
}
for entry in beat_schedule.values():
    kind = type(entry.get('schedule')) if isinstance(entry, dict) else None
    if kind is not None and kind.__module__ != 'builtins':
        SCHEDULE_FILE_CLASSES.setdefault(kind.__module__, set()).add(kind.__qualname__)

class ScheduleFileRefused(Exception):
    pass

def refused_class(what):
    return ScheduleFileRefused(
        'it names %s, which celery beat does not write there: unpickling it could run code as you, so '
        'nothing was read or imported' % what)

def zoneinfo_unpickle(owner, name):
    import zoneinfo
    if owner is zoneinfo.ZoneInfo and name == '_unpickle':
        return zoneinfo.ZoneInfo._unpickle
    raise refused_class('getattr(%s, %r)' % (repr(owner)[:80], name))

def schedule_file_unpickler(data):
    import io, pickle
    class ScheduleFileUnpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if name not in SCHEDULE_FILE_CLASSES.get(module, ()):
                raise refused_class('%s.%s' % (module, name))
            if (module, name) == ('builtins', 'getattr'):
                return zoneinfo_unpickle
            return super().find_class(module, name)
    return ScheduleFileUnpickler(io.BytesIO(data))

def schedule_file_of(path):
    # celery beat's PersistentScheduler state (celery/beat.py): a shelve with 'entries' (name ->
    # ScheduleEntry, pickled: last_run_at, total_run_count), 'tz', 'utc_enabled' and '__version__'.
    # Opened read-only as celery beat's shelve opens it (dbm.open), it must be stopped; each value
    # is unpickled by the restricted unpickler above, never by shelve (its pickle.loads takes any class).
    import dbm
    try:
        db = dbm.open(path, 'r')
    except Exception as error:
        fail('schedule-file', traceback.format_exception_only(type(error), error)[-1].strip())
    try:
        def stored(key, default=None):
            data = db.get(key.encode('utf-8'))
            return default if data is None else schedule_file_unpickler(data).load()
        missing = [k for k in ('entries', '__version__', 'tz', 'utc_enabled') if k.encode('utf-8') not in db]
        stored_tz = stored('tz')
        stored_utc = stored('utc_enabled')
        # What setup_schedule and _create_schedule would reset the file for: its runs would not count.
        reset = None
        if missing:
            reset = 'it lacks %s, so celery beat would start it afresh' % ', '.join(missing)
        elif stored_tz is not None and stored_tz != conf.timezone:
            reset = 'its time zone %r is not the app timezone %r, so celery beat would reset it' % (stored_tz, conf.timezone)
        elif stored_utc is not None and stored_utc != conf.enable_utc:
            reset = 'its enable_utc %r is not the app enable_utc %r, so celery beat would reset it' % (stored_utc, conf.enable_utc)
        # A naive last_run_at is read as celery beat's is_due reads it (schedule.maybe_make_aware).
        aware = schedule(1, app=app).maybe_make_aware
        runs = {}
        for name, entry in (stored('entries') or {}).items():
            last = getattr(entry, 'last_run_at', None)
            runs[str(name)] = {
                'last_run_at': aware(last).timestamp() if isinstance(last, datetime.datetime) else None,
                'total_run_count': int(getattr(entry, 'total_run_count', 0) or 0),
            }
        return {'version': enc(stored('__version__')), 'tz': enc(stored_tz), 'reset': reset, 'entries': runs}
    except SystemExit:
        raise
    except ScheduleFileRefused as error:
        fail('schedule-file-refused', str(error))
    except BaseException as error:
        traceback.print_exc()
        fail('schedule-file', traceback.format_exception_only(type(error), error)[-1].strip())
    finally:
        db.close()

def shelve_name(path):
    # dbm names its files after the name shelve is given: dbm.ndbm adds '.db' (or '.dir' and '.pag'),
    # dbm.dumb '.dat', '.dir' and '.bak', and ls shows those. A file that is no database by its own
    # name, beside a base name that is one, is named by its suffix: shelve opens the base name.
    import dbm
    base, suffix = os.path.splitext(path)
    if suffix in ('.db', '.dir', '.pag', '.dat', '.bak') and not dbm.whichdb(path) and dbm.whichdb(base):
        return base
    return path

schedule_file = schedule_file_of(shelve_name(sys.argv[2])) if len(sys.argv) > 2 else None

timezone = setting('timezone')
broker_url = setting('broker_url')
real_stdout.write(json.dumps({
    'celery_version': celery.__version__,
    'settings': {
        'timezone': None if timezone is None else str(timezone),
        'enable_utc': bool(setting('enable_utc')),
        'task_default_queue': setting('task_default_queue'),
        'task_routes': routes_of(setting('task_routes')),
        'broker_url': broker_url if isinstance(broker_url, str) else enc(broker_url),
        'broker_transport_options': enc(setting('broker_transport_options') or {}),
        'task_protocol': enc(setting('task_protocol')),
        'task_queue_max_priority': enc(setting('task_queue_max_priority')),
        'beat_cron_starting_deadline': enc(setting('beat_cron_starting_deadline')),
    },
    'entries': entries,
    'schedule_file': schedule_file,
}))
real_stdout.flush()
`;
