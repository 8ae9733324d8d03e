"""A Celery app for tsbeat's integration tests, run by a real worker (and by a real beat).

Everything comes from the environment, so one module serves every worker a test starts:
  TSBEAT_TEST_BROKER             broker URL (required)
  TSBEAT_TEST_BACKEND            result backend URL (optional)
  TSBEAT_TEST_TRANSPORT_OPTIONS  JSON for broker_transport_options (e.g. global_keyprefix)
  TSBEAT_TEST_NAMED_QUEUES       JSON list of {queue, exchange, type, routing_key}: queues bound
                                 to named exchanges (task_queues)
  TSBEAT_TEST_ROUTES             JSON for task_routes
  TSBEAT_TEST_BEAT_ENTRY         JSON of one beat entry {name, task, schedule, args, kwargs,
                                 options}, for the golden test's `celery beat`
  TSBEAT_TEST_CONF               JSON object of further Celery settings (e.g. task_queue_max_priority
                                 for RabbitMQ priority queues), applied last

The tasks record what they received, so a test checks what the worker actually ran.
"""
import json
import os
import time

from celery import Celery
from celery.exceptions import SoftTimeLimitExceeded
from kombu import Exchange, Queue

app = Celery("tsbeat_testapp", broker=os.environ["TSBEAT_TEST_BROKER"], backend=os.environ.get("TSBEAT_TEST_BACKEND") or None)
app.conf.update(
    broker_transport_options=json.loads(os.environ.get("TSBEAT_TEST_TRANSPORT_OPTIONS") or "{}"),
    broker_connection_retry_on_startup=True,
    enable_utc=True,
)
if os.environ.get("TSBEAT_TEST_NAMED_QUEUES"):
    app.conf.task_queues = [
        Queue(q["queue"], Exchange(q["exchange"], type=q["type"]), routing_key=q["routing_key"])
        for q in json.loads(os.environ["TSBEAT_TEST_NAMED_QUEUES"])
    ]
if os.environ.get("TSBEAT_TEST_ROUTES"):
    app.conf.task_routes = json.loads(os.environ["TSBEAT_TEST_ROUTES"])
if os.environ.get("TSBEAT_TEST_CONF"):
    app.conf.update(json.loads(os.environ["TSBEAT_TEST_CONF"]))

if os.environ.get("TSBEAT_TEST_REVOKE_STORES"):
    # What Celery >= 5.6.2 does on a revoke (celery#9869, celery/worker/control.py _revoke): the
    # worker that hears it stores REVOKED at once, through its result backend's own mark_as_revoked,
    # before the task has ended; a running task that the revoke does not stop stores its own end over
    # it. No Celery 5.6 package is at hand here, so a 5.2 worker's revoke command does the same, in the
    # same order (the id into the revoked set first, then the backend, then a terminate if asked).
    import logging

    from celery.utils.functional import maybe_list
    from celery.worker import control as _control

    _revoke_command = _control.Panel.data["revoke"]

    def _revoke_storing(state, task_id, terminate=False, signal=None, **kwargs):
        ids = set(maybe_list(task_id) or [])
        _control.worker_state.revoked.update(ids)
        for tid in ids:
            try:
                state.app.backend.mark_as_revoked(tid, reason="revoked", store_result=True)
            except Exception as exc:  # noqa: BLE001 - as 5.6: never fail the broadcast
                logging.getLogger(__name__).warning("Failed to mark %s revoked in backend: %s", tid, exc)
        return _revoke_command(state, task_id, terminate=terminate, signal=signal, **kwargs)

    _control.Panel.data["revoke"] = _revoke_storing

if os.environ.get("TSBEAT_TEST_BEAT_ENTRY"):
    # One entry, or a list of them.
    _entries = json.loads(os.environ["TSBEAT_TEST_BEAT_ENTRY"])
    app.conf.beat_schedule = {
        _entry["name"]: {
            "task": _entry["task"],
            "schedule": float(_entry["schedule"]),
            "args": _entry.get("args", []),
            "kwargs": _entry.get("kwargs", {}),
            "options": _entry.get("options", {}),
        }
        for _entry in (_entries if isinstance(_entries, list) else [_entries])
    }


def _executed(task_id):
    """Appends the id to a list in the result backend's DB: the order tasks actually ran in."""
    backend = os.environ.get("TSBEAT_TEST_BACKEND")
    if backend:
        import redis

        redis.Redis.from_url(backend).rpush("tsbeat-test:executed", task_id)


def _plain(value):
    return json.loads(json.dumps(value, default=repr))


if not os.environ.get("TSBEAT_TEST_BEAT_ENTRY"):
    # The golden test's beat must send by name (send_task), as a beat without the task code does.

    @app.task(bind=True, name="tsbeat_test.record")
    def record(self, *args, **kwargs):
        _executed(self.request.id)
        return {"args": _plain(list(args)), "kwargs": _plain(kwargs), "request": _plain(vars(self.request))}

    @app.task(bind=True, name="tsbeat_test.routed")
    def routed(self, *args, **kwargs):
        # record under another name, for a test that routes it elsewhere with task_routes.
        _executed(self.request.id)
        return {"args": _plain(list(args)), "kwargs": _plain(kwargs), "request": _plain(vars(self.request))}

    @app.task(name="tsbeat_test.ok")
    def ok():
        return "ok"

    @app.task(name="tsbeat_test.fail")
    def fail():
        raise ValueError("boom: line one\nline two")

    @app.task(bind=True, name="tsbeat_test.fail_recorded")
    def fail_recorded(self, entry=None, seconds=0):
        # Always fails (the dead-letter list, issue 70), after recording each run's id, attempt,
        # retry_of and beat_scheduled_at in the result backend's DB: what a replay's message carries
        # is read there. Given an entry and seconds (the retries' chaos test), it runs that long
        # first and records its entry and span too: what ran at once, as tsbeat_test.held does.
        import redis

        start = time.time()
        time.sleep(seconds)
        r = redis.Redis.from_url(os.environ["TSBEAT_TEST_BACKEND"])
        record = {
            "id": self.request.id,
            "attempt": getattr(self.request, "beat_attempt", None),
            "retry_of": getattr(self.request, "beat_retry_of", None),
            "scheduled": getattr(self.request, "beat_scheduled_at", None),
            "entry": entry,
            "start": start,
            "end": time.time(),
        }
        r.rpush("tsbeat-test:failed-runs", json.dumps(record))
        raise ValueError("always fails")

    @app.task(bind=True, name="tsbeat_test.fail_twice")
    def fail_twice(self):
        # Fails the first two attempts of a slot and succeeds at the third (tsbeat's retries, issue
        # 70): each attempt's id, headers and start go to a list in the result backend's DB.
        import redis

        r = redis.Redis.from_url(os.environ["TSBEAT_TEST_BACKEND"])
        retry_of = getattr(self.request, "beat_retry_of", None)
        attempt = getattr(self.request, "beat_attempt", None)
        r.rpush("tsbeat-test:attempts", json.dumps({"id": self.request.id, "attempt": attempt, "retry_of": retry_of, "at": time.time()}))
        if r.incr("tsbeat-test:fails:" + (retry_of or self.request.id)) <= 2:
            raise ValueError("not yet")
        return "third time"

    @app.task(bind=True, name="tsbeat_test.held")
    def held(self, entry, seconds):
        # A run of a concurrency group (issue 70): its id, entry, slot and the span it ran in go to a
        # list in the result backend's DB, the worker's own record of what ran at once.
        import redis

        start = time.time()
        time.sleep(seconds)
        record = {"id": self.request.id, "entry": entry, "slot": getattr(self.request, "beat_scheduled_at", None), "start": start, "end": time.time()}
        redis.Redis.from_url(os.environ["TSBEAT_TEST_BACKEND"]).rpush("tsbeat-test:held", json.dumps(record))
        return "held"

    # Canvas steps (docs/canvas.md): each records its id in the order it ran, and passes its result on.
    @app.task(bind=True, name="tsbeat_test.add")
    def add(self, x, y):
        _executed(self.request.id)
        return x + y

    @app.task(bind=True, name="tsbeat_test.mul")
    def mul(self, x, y):
        _executed(self.request.id)
        return x * y

    @app.task(bind=True, name="tsbeat_test.tsum")
    def tsum(self, values):
        # A chord's body: the header's results, in header order.
        _executed(self.request.id)
        return {"sum": sum(values), "values": values}

    @app.task(bind=True, name="tsbeat_test.errback")
    def errback(self, failed_id):
        # A link_error of one argument: Celery applies it with the failing task's id.
        _executed(self.request.id)
        return {"failed": failed_id, "parent_id": self.request.parent_id, "root_id": self.request.root_id}

    @app.task(bind=True, name="tsbeat_test.flaky")
    def flaky(self, countdown=1.5):
        # Fails its first attempt and is retried once: RETRY, then SUCCESS under the same task id.
        if self.request.retries < 1:
            raise self.retry(exc=RuntimeError("not yet"), countdown=countdown, max_retries=2)
        return "ok after a retry"

    @app.task(bind=True, name="tsbeat_test.slow_first")
    def slow_first(self, seconds):
        # A slot's own run sleeps (its worker is killed meanwhile, issue 70's lost run); a later
        # attempt returns at once. Each run's id, attempt headers and worker go to a list.
        import redis

        r = redis.Redis.from_url(os.environ["TSBEAT_TEST_BACKEND"])
        attempt = getattr(self.request, "beat_attempt", None)
        r.rpush(
            "tsbeat-test:slow-first",
            json.dumps({"id": self.request.id, "attempt": attempt, "retry_of": getattr(self.request, "beat_retry_of", None), "worker": self.request.hostname}),
        )
        if attempt is None:
            time.sleep(seconds)
        return "done"

    @app.task(bind=True, name="tsbeat_test.sleepy")
    def sleepy(self, seconds):
        _executed(self.request.id)
        try:
            time.sleep(seconds)
        except SoftTimeLimitExceeded:
            return {"soft_time_limit_exceeded": True, "timelimit": _plain(self.request.timelimit)}
        return {"soft_time_limit_exceeded": False, "timelimit": _plain(self.request.timelimit)}

    def _sentry_get_headers(task):
        """sentry-python's integrations/celery/beat.py `_get_headers`, as the worker's integration reads
        the check-in headers for the run's ok/error check-in (Debian's sentry-sdk 1.9 has no Crons)."""
        headers = task.request.get("headers") or {}
        if "headers" in headers:
            headers.update(headers["headers"])
            del headers["headers"]
        headers.update(task.request.get("properties") or {})
        return headers

    @app.task(bind=True, name="tsbeat_test.sentry_headers")
    def sentry_headers(self):
        headers = _sentry_get_headers(self)
        start = headers.get("sentry-monitor-start-timestamp-s")
        return {
            "id": self.request.id,
            "headers": _plain({k: v for k, v in headers.items() if k.startswith("sentry-")}),
            # What crons_task_success computes: the run's duration from the start the headers carry.
            "duration": time.time() - float(start) if start else None,
        }
