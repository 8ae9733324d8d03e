"""Every verb of the client against a real ``beat run --http``, a real Redis and a real Celery worker.

test/integration/python-client.test.ts starts them and runs this file with the installed wheel:
  TSBEAT_URL           the API's base (http://127.0.0.1:PORT)
  TSBEAT_TOKEN         a token that may write (named ``python-ci`` in the tokens file)
  TSBEAT_READ_TOKEN    a token that may only read
  TSBEAT_STATIC_ENTRY  the name of an entry of the config file
  TSBEAT_RESULTS       the Redis URL of the worker's result backend (its test app records each task run)
Without TSBEAT_URL the file is skipped: it needs that deployment.
"""
from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Callable, Dict, Iterator, List, Optional, TypeVar

import pytest
from celery import signature
from celery.schedules import crontab

import tsbeat
from tsbeat import (
    DeploymentStopped,
    EntryConflict,
    EntryInvalid,
    EntryIsStatic,
    Forbidden,
    NothingSelected,
    OwnerConflict,
    PlanStale,
    Tsbeat,
    Unauthorized,
    UnknownEntry,
    entry,
)

URL = os.environ.get("TSBEAT_URL")
live = pytest.mark.skipif(URL is None, reason="needs a running beat (TSBEAT_URL): run test/integration/python-client.test.ts")
T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], Optional[T]], timeout: float = 20.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {timeout} s")


@pytest.fixture(scope="module")
def client() -> Tsbeat:
    assert URL is not None
    return Tsbeat(URL, os.environ["TSBEAT_TOKEN"])


@pytest.fixture()
def fresh(client: Tsbeat) -> Iterator[List[str]]:
    """Names a test creates; deleted after it, whatever it left."""
    names: List[str] = []
    yield names
    for name in names:
        try:
            client.delete(name)
        except UnknownEntry:
            pass


def audit_actions(client: Tsbeat, name: str) -> List[Dict[str, Any]]:
    return [e for e in client.audit(name, limit=50)["events"]]


@live
def test_put_get_list_delete_and_versions(client: Tsbeat, fresh: List[str]) -> None:
    fresh += ["py-crud-a", "py-crud-b"]
    created = client.put("py-crud-a", entry(crontab(minute=0, hour=7), "proj.report", labels={"team": "billing"}))
    assert created["name"] == "py-crud-a"
    got = client.get("py-crud-a")
    assert got["entry"]["schedule"]["crontab"]["hour"] == 7
    assert got["entry"]["labels"] == {"team": "billing"}
    version = got["version"]
    client.put("py-crud-a", {**got["entry"], "enabled": False}, if_match=version)
    with pytest.raises(EntryConflict):
        client.put("py-crud-a", got["entry"], if_match=version)  # the version moved on
    with pytest.raises(EntryConflict):
        client.put("py-crud-a", got["entry"], if_match=0)  # 0: only a new entry
    client.put("py-crud-b", entry(timedelta(minutes=5), "proj.tick", labels={"team": "ops"}))
    names = [e["name"] for e in client.entries("team=billing")]
    assert "py-crud-a" in names and "py-crud-b" not in names
    page = client.list(limit=1)
    assert len(page["entries"]) == 1 and "next" in page
    client.delete("py-crud-b")
    with pytest.raises(UnknownEntry) as refused:
        client.get("py-crud-b")
    assert refused.value.status == 404 and refused.value.code == "UNKNOWN_ENTRY"


@live
def test_a_bad_entry_raises_entry_invalid_with_its_problems_and_nothing_is_written(client: Tsbeat, fresh: List[str]) -> None:
    fresh += ["py-good", "py-bad"]
    with pytest.raises(EntryInvalid) as refused:
        client.put_many({
            "py-good": entry(60, "proj.tick"),
            "py-bad": {"task": "proj.tick", "schedule": {"crontab": {"hour": 25}}},
        })
    assert refused.value.status == 400
    assert any(p.path.startswith("entries.py-bad.schedule") and "25" in p.message for p in refused.value.problems)
    with pytest.raises(UnknownEntry):
        client.get("py-good")  # all or nothing


@live
def test_a_config_file_name_is_refused(client: Tsbeat) -> None:
    with pytest.raises(EntryIsStatic):
        client.put(os.environ["TSBEAT_STATIC_ENTRY"], entry(60, "proj.tick"))


@live
def test_pause_resume_trigger_history_and_audit_of_one_entry(client: Tsbeat, fresh: List[str]) -> None:
    fresh.append("py-verbs")
    client.put("py-verbs", entry(3600, "tsbeat_test.ok"))
    handle = client.entry("py-verbs")
    assert handle.pause(note="maintenance")["paused"] is True
    assert handle.pause()["changed"] is False
    assert handle.resume(note="done")["paused"] is False
    triggered = wait_for("a trigger the leader took", lambda: _taken(handle.trigger(note="rerun")))
    assert triggered["state"] == "published" and triggered["taskId"]
    runs = wait_for("the triggered run in history", lambda: handle.history(limit=5)["runs"] or None)
    assert any(r.get("taskId") == triggered["taskId"] for r in runs)
    events = audit_actions(client, "py-verbs")
    actions = [e.get("action") for e in events]
    assert {"pause", "resume", "trigger"} <= set(actions)
    assert all(e.get("who") == "python-ci" for e in events if e.get("action") in ("pause", "resume", "trigger"))
    assert any(e.get("note") == "maintenance" for e in events)


def _taken(answer: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    # 202 "queued": no leader took it within the API's wait yet; ask again.
    return answer if answer.get("state") != "queued" else None


@live
def test_selection_verbs_and_nothing_selected(client: Tsbeat, fresh: List[str]) -> None:
    fresh += ["py-sel-1", "py-sel-2"]
    client.put_many({n: entry(3600, "tsbeat_test.ok", labels={"py-sel": "yes"}) for n in fresh})
    paused = wait_for("both selected", lambda: _all_selected(lambda: client.selection("py-sel=yes").pause(note="freeze"), 2))
    assert sorted(paused["entries"]) == ["py-sel-1", "py-sel-2"]
    assert client.selection("py-sel=yes").resume()["paused"] is False
    with pytest.raises(NothingSelected):
        client.selection("py-sel=nobody").pause()


def _all_selected(call: Callable[[], Dict[str, Any]], count: int) -> Optional[Dict[str, Any]]:
    # A selection selects among the entries that run: the leader takes new ones within a second.
    try:
        answer = call()
    except NothingSelected:
        return None
    return answer if len(answer.get("entries", [])) >= count else None


@live
def test_the_deployment_wide_stop(client: Tsbeat, fresh: List[str]) -> None:
    fresh.append("py-stop")
    client.put("py-stop", entry(3600, "tsbeat_test.ok"))
    deployment = client.deployment()
    stopped = deployment.pause(note="incident 4711")
    try:
        assert stopped["stopped"]["note"] == "incident 4711"
        assert deployment.stop() is not None
        with pytest.raises(DeploymentStopped):
            wait_for("the entry known", lambda: _unless_unknown(lambda: client.entry("py-stop").trigger()))
    finally:
        lifted = deployment.resume(note="resolved")
    assert lifted["stopped"] is None and lifted["lifted"] is not None
    assert deployment.stop() is None
    assert "leader" in deployment.status() or "entries" in deployment.status()


def _unless_unknown(call: Callable[[], Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    try:
        return call()
    except UnknownEntry:  # the leader has not read the new entry yet
        return None


@live
def test_backfill_dry_run_and_run(client: Tsbeat, fresh: List[str]) -> None:
    fresh.append("py-backfill")
    client.put("py-backfill", entry(crontab(minute=0), "tsbeat_test.ok"))
    handle = client.entry("py-backfill")
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    start, end = (now - timedelta(hours=3, minutes=30)).isoformat(), (now - timedelta(minutes=30)).isoformat()
    dry = wait_for("the entry known", lambda: _unless_unknown(lambda: handle.backfill(start, end, dry_run=True)))
    assert len(dry["slots"]) == 3
    done = handle.backfill(start, end, note="outage", wait=20)
    assert done["done"] is True and done["published"] == 3
    assert any(e.get("action") == "backfill" for e in audit_actions(client, "py-backfill"))
    # wait=0: the server is asked not to wait (waitMs 0): answered at once, most often before the
    # leader is done (test/integration/backfill.test.ts holds the leader still to see it so); its
    # progress then shows it done.
    earlier = (now - timedelta(hours=5, minutes=30)).isoformat()
    queued = handle.backfill(earlier, start, wait=0)
    progress = wait_for("the queued backfill done", lambda: _done(_unless_unknown(lambda: handle.backfill_progress(str(queued["id"])))))
    assert progress["published"] == 2


def _done(progress: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    return progress if progress is not None and progress.get("done") else None


@live
def test_plan_and_apply_with_owner_and_digest(client: Tsbeat, fresh: List[str]) -> None:
    fresh += ["py-owned-1", "py-owned-2", "py-unowned"]
    wanted = {"py-owned-1": entry(3600, "proj.a"), "py-owned-2": entry(7200, "proj.b")}
    plan = client.plan("py-app", wanted)
    assert plan["counts"]["add"] == 2
    applied = client.apply("py-app", wanted, plan_digest=plan["digest"], note="commit abc123")
    assert applied["counts"]["add"] == 2
    assert client.get("py-owned-1")["entry"].get("owner", "py-app") == "py-app"
    with pytest.raises(PlanStale):
        client.apply("py-app", {"py-owned-1": entry(60, "proj.a")}, plan_digest=plan["digest"])
    client.put("py-unowned", entry(60, "proj.c"))
    with pytest.raises(OwnerConflict):
        client.apply("py-app", {**wanted, "py-unowned": entry(60, "proj.c")})
    assert client.get("py-unowned")["entry"]["schedule"] == 60  # nothing written
    client.apply("py-app", {})  # the owner's entries pruned
    with pytest.raises(UnknownEntry):
        client.get("py-owned-2")


@live
def test_status_probes_and_the_description(client: Tsbeat) -> None:
    assert client.health() is not None and client.ready() is not None
    assert str(client.openapi()["openapi"]).startswith("3.1")
    status = client.status()
    assert json.dumps(status)  # JSON all the way
    assert any(e.get("name") == os.environ["TSBEAT_STATIC_ENTRY"] for e in status.get("entries", []))


@live
def test_tokens_read_only_and_missing(client: Tsbeat) -> None:
    assert URL is not None
    reader = Tsbeat(URL, os.environ["TSBEAT_READ_TOKEN"])
    assert isinstance(reader.list()["entries"], list)
    with pytest.raises(Forbidden):
        reader.put("py-reader", entry(60, "proj.tick"))
    with pytest.raises(Unauthorized):
        Tsbeat(URL, "not-a-token-of-this-deployment").put("py-reader", entry(60, "proj.tick"))
    with pytest.raises(UnknownEntry):
        client.get("py-reader")


@live
def test_a_canvas_built_from_celery_signatures_runs_on_the_worker(client: Tsbeat, fresh: List[str]) -> None:
    import redis

    results = redis.Redis.from_url(os.environ["TSBEAT_RESULTS"])
    results.delete("tsbeat-test:executed")
    fresh.append("py-canvas")
    canvas = signature("tsbeat_test.add", args=(2, 2)) | signature("tsbeat_test.mul", args=(4,))
    client.put("py-canvas", entry(3600, canvas))
    wait_for("a trigger the leader took", lambda: _taken(_unless_unknown(lambda: client.entry("py-canvas").trigger()) or {"state": "queued"}))
    ran = wait_for("both steps run", lambda: _ids(results.lrange("tsbeat-test:executed", 0, -1), 2), timeout=30)
    last = json.loads(results.get(f"celery-task-meta-{ran[-1]}") or b"{}")
    assert last.get("status") == "SUCCESS" and last.get("result") == 16


def _ids(raw: List[bytes], count: int) -> Optional[List[str]]:
    return [r.decode() for r in raw] if len(raw) >= count else None


# -- the client's own rules, against a local server that answers as told ------------------------------


class _Scripted(BaseHTTPRequestHandler):
    replies: List[Any] = []
    seen: List[str] = []
    bodies: List[Any] = []

    def _answer(self) -> None:
        type(self).seen.append(f"{self.command} {self.path} {self.headers.get('authorization')}")
        length = int(self.headers.get("content-length") or 0)
        type(self).bodies.append(json.loads(self.rfile.read(length)) if length > 0 else None)
        status, headers, body = type(self).replies.pop(0)
        data = json.dumps(body).encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def scripted() -> Iterator[Callable[[List[Any]], Tsbeat]]:
    server = HTTPServer(("127.0.0.1", 0), _Scripted)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def with_replies(replies: List[Any]) -> Tsbeat:
        _Scripted.replies = list(replies)
        _Scripted.seen = []
        _Scripted.bodies = []
        return Tsbeat(f"http://127.0.0.1:{server.server_address[1]}", "secret-token", retries=2)

    yield with_replies
    server.shutdown()


def test_busy_and_unavailable_are_retried_after_retry_after(scripted: Callable[[List[Any]], Tsbeat]) -> None:
    busy = {"error": "busy", "code": "API_BUSY"}
    away = {"error": "Redis away", "code": "REDIS_UNAVAILABLE"}
    client = scripted([(429, {"retry-after": "0"}, busy), (503, {"retry-after": "0"}, away), (200, {}, {"entries": []})])
    assert client.list() == {"entries": []}
    assert len(_Scripted.seen) == 3


def test_retries_stop_at_the_limit_and_other_refusals_are_not_retried(scripted: Callable[[List[Any]], Tsbeat]) -> None:
    away = (503, {"retry-after": "0"}, {"error": "Redis away", "code": "REDIS_UNAVAILABLE"})
    client = scripted([away, away, away])
    with pytest.raises(tsbeat.Unavailable) as refused:
        client.list()
    assert refused.value.code == "REDIS_UNAVAILABLE" and len(_Scripted.seen) == 3
    client = scripted([(500, {}, {"error": "boom", "code": "INTERNAL", "errorId": "e-1"})])
    with pytest.raises(tsbeat.InternalError) as failed:
        client.entry("x").trigger()
    assert failed.value.error_id == "e-1" and len(_Scripted.seen) == 1


def test_a_wait_shorter_than_the_servers_is_sent_as_wait_ms(scripted: Callable[[List[Any]], Tsbeat]) -> None:
    # A trigger's and a backfill's `wait` under the server's own 5 s is asked for (waitMs); none, or a
    # longer one, leaves the server its 5 s (a backfill then polls its progress for the rest).
    published = (200, {}, {"entry": "x", "taskId": "t-1", "state": "published"})
    done = (200, {}, {"entry": "x", "id": "b-1", "done": True, "published": 1})
    client = scripted([published] * 4 + [done] * 4)
    handle = client.entry("x")
    for wait in (0, 1.5, None, 7):
        handle.trigger(note="why", wait=wait)
    for wait in (0, 1.5, None, 7):
        handle.backfill("2027-01-01T00:00:00Z", "2027-01-01T00:00:00Z", wait=wait)
    routes = [s.split(" ")[:2] for s in _Scripted.seen]
    assert routes == [["POST", "/api/entries/x/trigger"]] * 4 + [["POST", "/api/entries/x/backfill"]] * 4
    assert [b.get("waitMs") for b in _Scripted.bodies] == [0, 1500, None, None] * 2
    assert all(b["note"] == "why" for b in _Scripted.bodies[:4])


def test_an_unknown_code_is_a_tsbeat_error_and_the_token_stays_out_of_repr(scripted: Callable[[List[Any]], Tsbeat]) -> None:
    client = scripted([(409, {}, {"error": "something new", "code": "SOMETHING_NEW"})])
    with pytest.raises(tsbeat.TsbeatError) as refused:
        client.get("x")
    assert type(refused.value) is tsbeat.TsbeatError and refused.value.code == "SOMETHING_NEW"
    assert "secret-token" not in repr(client) and _Scripted.seen[0].endswith("Bearer secret-token")
    assert _Scripted.seen[0].startswith("GET /api/entries/x ")


@pytest.mark.skipif(not os.environ.get("TSBEAT_EXPECT_INSTALLED"), reason="only when run from the installed wheel")
def test_the_package_is_the_installed_wheel() -> None:
    assert "site-packages" in (tsbeat.__file__ or ""), tsbeat.__file__
