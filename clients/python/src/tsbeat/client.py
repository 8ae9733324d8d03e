"""The HTTP client: every verb of tsbeat's ``/api``, as ``Tsbeat(url, token)``.

The shapes are the API's own JSON (docs/runtime-entries.md and ``/api/openapi.json``): answers are
returned as the dictionaries the API sends, so a field the server adds reaches the caller without a
release of this package. The operator verbs hang off handles, as the TypeScript client's do: one per
entry (``client.entry("nightly").pause(note=...)``), one per selection and one for the deployment.

Retries: only where the API says a request is safe to send again, a 429 ``API_BUSY`` and a 503 (Redis
or the broker away), each after its ``Retry-After``, at most ``retries`` times. Nothing else is retried.
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple, Union

from .errors import TsbeatError, error_from_reply

JSON = Dict[str, Any]
# A Retry-After larger than this is not slept through: the error is raised for the caller to decide.
_MAX_RETRY_WAIT_S = 30.0
# The longest a trigger's or a backfill's request asks the server to wait for the leader (waitMs's maximum).
_SERVER_WAIT_S = 5.0


class Tsbeat:
    """A deployment's API at ``url`` (``http://beat:9808``), with a token of its tokens file."""

    def __init__(
        self,
        url: str,
        token: Optional[str] = None,
        *,
        timeout: float = 30.0,
        retries: int = 3,
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"url {url!r}: give the API's base, such as http://127.0.0.1:9808")
        if retries < 0:
            raise ValueError(f"retries {retries}: give 0 or more")
        self.url = url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.retries = retries

    def __repr__(self) -> str:  # the token stays out of logs and tracebacks
        return f"Tsbeat({self.url!r})"

    # -- transport ---------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Optional[Mapping[str, Any]] = None,
        body: Any = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> Any:
        """One call of the API; returns the parsed JSON answer (None for 204), raises :class:`TsbeatError`."""
        return self._call(method, path, query=query, body=body, headers=headers)[1]

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: Optional[Mapping[str, Any]] = None,
        body: Any = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> "tuple[int, Any, Mapping[str, str]]":
        params = {k: _query_value(v) for k, v in (query or {}).items() if v is not None}
        target = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        sent: Dict[str, str] = {"accept": "application/json", **(headers or {})}
        data: Optional[bytes] = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            sent["content-type"] = "application/json"
        if self._token is not None:
            sent["authorization"] = f"Bearer {self._token}"
        attempt = 0
        while True:
            status, answer, reply_headers = self._send(method, target, data, sent)
            if 200 <= status < 300:
                return status, answer, reply_headers
            retry_after = _seconds(reply_headers.get("retry-after"))
            error = error_from_reply(status, answer, retry_after)
            safe_to_retry = status in (429, 503)
            wait = retry_after if retry_after is not None else 0.5 * 2**attempt
            if not safe_to_retry or attempt >= self.retries or wait > _MAX_RETRY_WAIT_S:
                raise error
            attempt += 1
            time.sleep(wait)

    def _send(
        self, method: str, target: str, data: Optional[bytes], headers: Mapping[str, str]
    ) -> "tuple[int, Any, Mapping[str, str]]":
        req = urllib.request.Request(target, data=data, method=method, headers=dict(headers))
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as res:
                return res.status, _parse(res.read()), {k.lower(): v for k, v in res.headers.items()}
        except urllib.error.HTTPError as refused:
            reply_headers = {k.lower(): v for k, v in refused.headers.items()}
            return refused.code, _parse(refused.read()), reply_headers
        except (urllib.error.URLError, OSError) as unreachable:
            reason = getattr(unreachable, "reason", unreachable)
            raise TsbeatError(f"{self.url} did not answer: {reason}", code="CONNECTION") from unreachable

    # -- entries -------------------------------------------------------------------------------------

    def list(self, selector: Optional[str] = None, *, limit: int = 100, after: Optional[str] = None) -> JSON:
        """One page: ``{entries: [...], next?}``, in name order after ``after``; pass ``next`` on."""
        return dict(self.request("GET", "/api/entries", query={"selector": selector, "limit": limit, "after": after}))

    def entries(self, selector: Optional[str] = None, *, page_size: int = 100) -> Iterator[JSON]:
        """Every stored entry (that ``selector`` selects), page after page."""
        after: Optional[str] = None
        while True:
            page = self.list(selector, limit=page_size, after=after)
            yield from page.get("entries", [])
            after = page.get("next")
            if after is None:
                return

    def get(self, name: str) -> JSON:
        """``{name, entry, version, createdAt, updatedAt, problems?}``; :class:`UnknownEntry` if none."""
        return dict(self.request("GET", _entry_path(name)))

    def put(self, name: str, entry: Mapping[str, Any], *, if_match: Optional[Union[int, str]] = None) -> JSON:
        """Creates or replaces one entry (``if_match``: only at that version; 0: only a new one)."""
        headers = {"if-match": f'"{if_match}"'} if if_match is not None else None
        return dict(self.request("PUT", _entry_path(name), body=dict(entry), headers=headers))

    def put_many(self, entries: Mapping[str, Mapping[str, Any]]) -> JSON:
        """All or nothing: ``{version, outcomes: {name: created|updated|unchanged}}``."""
        return dict(self.request("PUT", "/api/entries", body={k: dict(v) for k, v in entries.items()}))

    def delete(self, name: str, *, keep_history: bool = False, if_match: Optional[Union[int, str]] = None) -> None:
        headers = {"if-match": f'"{if_match}"'} if if_match is not None else None
        query = {"keepHistory": "true"} if keep_history else None
        self.request("DELETE", _entry_path(name), query=query, headers=headers)

    # -- plan and apply ------------------------------------------------------------------------------

    def plan(self, owner: str, entries: Mapping[str, Mapping[str, Any]], *, horizon: Optional[str] = None) -> JSON:
        """What an apply of ``entries`` as ``owner`` would do, as ``beat plan --json`` prints it, with the
        owner's load now and after over ``horizon`` (a duration such as ``"24h"``, the default, or ``"7d"``)."""
        return dict(
            self.request("POST", "/api/plan", query={"horizon": horizon}, body={"owner": owner, "entries": _plain(entries)})
        )

    def apply(
        self,
        owner: str,
        entries: Mapping[str, Mapping[str, Any]],
        *,
        plan_digest: Optional[str] = None,
        note: Optional[str] = None,
    ) -> JSON:
        """Makes ``owner``'s entries exactly ``entries`` in one write (:class:`OwnerConflict`, :class:`PlanStale`)."""
        body: JSON = {"owner": owner, "entries": _plain(entries)}
        if plan_digest is not None:
            body["planDigest"] = plan_digest
        return dict(self.request("POST", "/api/apply", body=body, headers=_note_header(note)))

    # -- reading the deployment ----------------------------------------------------------------------

    def status(self, *, offset: Optional[int] = None, limit: Optional[int] = None) -> JSON:
        """What ``/status`` answers: the leader, and each entry's state."""
        return dict(self.request("GET", "/api/status", query={"offset": offset, "limit": limit}))

    def audit(
        self, entry: Optional[str] = None, *, who: Optional[str] = None, limit: int = 50, before: Optional[str] = None
    ) -> JSON:
        """One page of the audit trail, newest first: ``{events: [...], next?}``; pass ``next`` as ``before``.
        ``who``: only the events of this caller (a token's name, ``user@host``)."""
        return dict(self.request("GET", "/api/audit", query={"entry": entry, "who": who, "limit": limit, "before": before}))

    # -- the dead-letter list (docs/outcomes.md, "The dead-letter list") ------------------------------

    def dead_letters(self, selector: Optional[str] = None) -> List[JSON]:
        """The slots that failed for good, oldest first, of the entries the token may read: each
        ``{id, entry, slot, taskId, retryOf, attempts, end, exception?, at}``; with ``selector``,
        those whose entry it selects."""
        return [dict(d) for d in self.request("GET", "/api/dead-letters", query={"selector": selector})["deadLetters"]]

    def replay_dead_letter(self, dead_letter_id: str, *, note: Optional[str] = None) -> JSON:
        """Publishes the item again, once, through the leader: ``{replayed: [{id, entry, taskId, state}]}``
        (202: still queued). The item leaves the list."""
        body: JSON = {"note": note} if note is not None else {}
        return dict(self.request("POST", _dead_letter_path(dead_letter_id, "replay"), body=body))

    def discard_dead_letter(self, dead_letter_id: str, *, note: Optional[str] = None) -> JSON:
        """Removes the item unpublished: ``{discarded: [...]}``."""
        body: JSON = {"note": note} if note is not None else {}
        return dict(self.request("POST", _dead_letter_path(dead_letter_id, "discard"), body=body))

    # -- probes and the description --------------------------------------------------------------

    def health(self) -> JSON:
        """``/healthz``: the process is alive (open to everyone, as kubelets probe it)."""
        return dict(self.request("GET", "/healthz") or {})

    def ready(self) -> JSON:
        """``/readyz``: the replica can serve (raises :class:`Unavailable` while it cannot)."""
        return dict(self.request("GET", "/readyz") or {})

    def openapi(self) -> JSON:
        """The API's OpenAPI 3.1 document, as this deployment serves it."""
        return dict(self.request("GET", "/api/openapi.json"))

    # -- handles -------------------------------------------------------------------------------------

    def entry(self, name: str) -> "EntryHandle":
        """The verbs of one entry (the store's, or the leading config file's)."""
        return EntryHandle(self, name)

    def selection(self, selector: str) -> "Selection":
        """The verbs of every entry a label selector (``team=billing,tier!=batch``) selects."""
        return Selection(self, selector)

    def deployment(self) -> "Deployment":
        """The deployment-wide stop, and the deployment's status."""
        return Deployment(self)


class _OperatorVerbs:
    """Pause, resume and trigger: the same three verbs of an entry's handle and of a selection."""

    client: Tsbeat

    def pause(self, *, note: Optional[str] = None) -> JSON:
        """``{entry, paused: true, changed}`` (``changed`` false: it already was); a selection's ``{selector, entries, changed, paused}``."""
        return self._verb("pause", note)

    def resume(self, *, note: Optional[str] = None) -> JSON:
        return self._verb("resume", note)

    def trigger(self, *, note: Optional[str] = None) -> JSON:
        """One run now through the leader's fenced path: ``{entry, taskId, state}`` (202: ``queued``)."""
        return self._verb("trigger", note)

    def _where(self, verb: str) -> Tuple[str, Optional[Dict[str, str]]]:
        raise NotImplementedError

    def _verb(self, verb: str, note: Optional[str], count: Optional[int] = None) -> JSON:
        path, query = self._where(verb)
        body: JSON = {"note": note} if note is not None else {}
        if count is not None:
            body["count"] = count
        return dict(self.client.request("POST", path, query=query, body=body))


class EntryHandle(_OperatorVerbs):
    """One entry's verbs, each the same function ``beat`` and the TypeScript client call."""

    def __init__(self, client: Tsbeat, name: str) -> None:
        self.client = client
        self.name = name

    def __repr__(self) -> str:
        return f"EntryHandle({self.name!r})"

    def describe(self) -> JSON:
        return self.client.get(self.name)

    def put(self, entry: Mapping[str, Any], *, if_match: Optional[Union[int, str]] = None) -> JSON:
        return self.client.put(self.name, entry, if_match=if_match)

    def delete(self, *, keep_history: bool = False) -> None:
        self.client.delete(self.name, keep_history=keep_history)

    def history(self, *, limit: int = 20) -> JSON:
        """``{entry, runs: [...]}``: its last ``limit`` slots, newest first, each with its retry
        ``attempts``, as ``beat history NAME --json``."""
        return dict(self.client.request("GET", _entry_path(self.name) + "/history", query={"limit": limit}))

    def audit(self, *, limit: int = 50, before: Optional[str] = None) -> JSON:
        return self.client.audit(self.name, limit=limit, before=before)

    def trigger(self, *, note: Optional[str] = None, wait: Optional[float] = None) -> JSON:
        """One run now through the leader's fenced path: ``{entry, taskId, state}``.

        The server waits for the leader to publish it, its own 5 s or ``wait`` seconds when that
        is shorter, then answers it ``queued`` (202: left for the leader).
        """
        body: JSON = {"note": note} if note is not None else {}
        if wait is not None and wait < _SERVER_WAIT_S:
            body["waitMs"] = max(0, int(wait * 1000))
        return dict(self.client.request("POST", _entry_path(self.name) + "/trigger", body=body))

    def backfill(
        self,
        start: str,
        end: str,
        *,
        dry_run: bool = False,
        limit: Optional[int] = None,
        overlap: Optional[str] = None,
        unrecorded: Optional[bool] = None,
        after: Optional[str] = None,
        note: Optional[str] = None,
        wait: Optional[float] = None,
        poll_every: float = 0.5,
    ) -> JSON:
        """Runs the slots from ``start`` to ``end`` (ISO instants) that did not run, as ``beat backfill``.

        The answer is the API's: done (``done: true``) or the progress so far, with its ``id``.
        Without ``wait`` the server waits its own 5 s for the leader; with ``wait`` (seconds, in
        all), it waits up to 5 s of it, then the progress is polled until done or ``wait`` has passed.
        """
        deadline = time.monotonic() + (wait or 0.0)
        body: JSON = {"from": start, "to": end}
        for key, value in (("dryRun", dry_run or None), ("limit", limit), ("overlap", overlap),
                           ("unrecorded", unrecorded), ("after", after), ("note", note)):
            if value is not None:
                body[key] = value
        if wait is not None and not dry_run and wait < _SERVER_WAIT_S:
            body["waitMs"] = max(0, int(wait * 1000))
        progress = dict(self.client.request("POST", _entry_path(self.name) + "/backfill", body=body))
        while not progress.get("done") and not dry_run and time.monotonic() < deadline:
            time.sleep(poll_every)
            progress = self.backfill_progress(str(progress["id"]))
        return progress

    def backfill_progress(self, backfill_id: str) -> JSON:
        """A backfill's progress (kept an hour after its last step)."""
        path = _entry_path(self.name) + "/backfill/" + urllib.parse.quote(backfill_id, safe="")
        return dict(self.client.request("GET", path))

    def _where(self, verb: str) -> Tuple[str, Optional[Dict[str, str]]]:
        return f"{_entry_path(self.name)}/{verb}", None


class Selection(_OperatorVerbs):
    """The verbs of every entry a selector selects, at once, audited as one event."""

    def __init__(self, client: Tsbeat, selector: str) -> None:
        self.client = client
        self.selector = selector

    def __repr__(self) -> str:
        return f"Selection({self.selector!r})"

    def entries(self, *, page_size: int = 100) -> Iterator[JSON]:
        """The stored entries it selects."""
        return self.client.entries(self.selector, page_size=page_size)

    # ``count``: the number of entries the caller confirmed; another number selected now is a 409
    # SELECTION_CHANGED, nothing done.
    def pause(self, *, note: Optional[str] = None, count: Optional[int] = None) -> JSON:
        return self._verb("pause", note, count)

    def resume(self, *, note: Optional[str] = None, count: Optional[int] = None) -> JSON:
        return self._verb("resume", note, count)

    def trigger(self, *, note: Optional[str] = None, count: Optional[int] = None) -> JSON:
        """Queued for the leader: ``{selector, entries, taskIds, runs}`` (202)."""
        return self._verb("trigger", note, count)

    def replay_dead_letters(self, *, note: Optional[str] = None) -> JSON:
        """Replays every dead letter whose entry it selects (the operate grant on all, or none is)."""
        body: JSON = {"note": note} if note is not None else {}
        return dict(self.client.request("POST", "/api/dead-letters/replay", query={"selector": self.selector}, body=body))

    def discard_dead_letters(self, *, note: Optional[str] = None) -> JSON:
        """Discards every dead letter whose entry it selects."""
        body: JSON = {"note": note} if note is not None else {}
        return dict(self.client.request("POST", "/api/dead-letters/discard", query={"selector": self.selector}, body=body))

    def _where(self, verb: str) -> Tuple[str, Optional[Dict[str, str]]]:
        return f"/api/selected/{verb}", {"selector": self.selector}


class Deployment:
    """The deployment-wide stop (``beat pause --all``), and the deployment's status."""

    def __init__(self, client: Tsbeat) -> None:
        self.client = client

    def pause(self, *, note: Optional[str] = None) -> JSON:
        """Sets the stop: ``{stopped: {by, since, note}, changed}``."""
        body = {"note": note} if note is not None else {}
        return dict(self.client.request("PUT", "/api/stop", body=body))

    def resume(self, *, note: Optional[str] = None) -> JSON:
        """Lifts the stop: ``{stopped: null, lifted}`` (``lifted`` null: none was set)."""
        return dict(self.client.request("DELETE", "/api/stop", headers=_note_header(note)))

    def stop(self) -> Optional[JSON]:
        """The stop that is set, or None."""
        stopped = self.client.request("GET", "/api/stop").get("stopped")
        return dict(stopped) if isinstance(stopped, dict) else None

    def status(self) -> JSON:
        return self.client.status()


def _entry_path(name: str) -> str:
    if not isinstance(name, str) or name == "":
        raise ValueError(f"entry name {name!r}: give the entry's name, a non-empty string")
    return "/api/entries/" + urllib.parse.quote(name, safe="")


def _dead_letter_path(dead_letter_id: str, verb: str) -> str:
    if not isinstance(dead_letter_id, str) or dead_letter_id == "":
        raise ValueError(f"dead letter id {dead_letter_id!r}: give its id, as dead_letters() lists them")
    return "/api/dead-letters/" + urllib.parse.quote(dead_letter_id, safe="") + "/" + verb


def _note_header(note: Optional[str]) -> Optional[Dict[str, str]]:
    # A header carries ASCII only: a note beyond it is percent-encoded, as the CLI's X-Beat-Note is read.
    return {"x-beat-note": urllib.parse.quote(note, safe=" /:@,;=+-_.~")} if note is not None else None


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _seconds(text: Optional[str]) -> Optional[float]:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {"error": raw[:200].decode("utf-8", "replace")}


def _plain(entries: Mapping[str, Mapping[str, Any]]) -> JSON:
    return {name: dict(entry) for name, entry in entries.items()}


# Each operation of the API's document (docs/openapi.json) and the method that calls it; None for
# what the client leaves to its own readers: Prometheus scrapes /metrics, and /status is /api/status
# (status()) without the /api prefix. tests/test_openapi_coverage.py holds the two to each other.
OPERATIONS: Dict[str, Optional[str]] = {
    "GET /healthz": "Tsbeat.health",
    "GET /readyz": "Tsbeat.ready",
    "GET /metrics": None,
    "GET /status": None,
    "GET /api/status": "Tsbeat.status",
    "GET /api/openapi.json": "Tsbeat.openapi",
    "GET /api/entries": "Tsbeat.list",
    "PUT /api/entries": "Tsbeat.put_many",
    "GET /api/entries/{name}": "Tsbeat.get",
    "PUT /api/entries/{name}": "Tsbeat.put",
    "DELETE /api/entries/{name}": "Tsbeat.delete",
    "GET /api/entries/{name}/history": "EntryHandle.history",
    "POST /api/entries/{name}/pause": "EntryHandle.pause",
    "POST /api/entries/{name}/resume": "EntryHandle.resume",
    "POST /api/entries/{name}/trigger": "EntryHandle.trigger",
    "POST /api/entries/{name}/backfill": "EntryHandle.backfill",
    "GET /api/entries/{name}/backfill/{id}": "EntryHandle.backfill_progress",
    "POST /api/selected/pause": "Selection.pause",
    "POST /api/selected/resume": "Selection.resume",
    "POST /api/selected/trigger": "Selection.trigger",
    "GET /api/stop": "Deployment.stop",
    "PUT /api/stop": "Deployment.pause",
    "DELETE /api/stop": "Deployment.resume",
    "POST /api/plan": "Tsbeat.plan",
    "POST /api/apply": "Tsbeat.apply",
    "GET /api/audit": "Tsbeat.audit",
    "GET /api/dead-letters": "Tsbeat.dead_letters",
    "POST /api/dead-letters/{id}/replay": "Tsbeat.replay_dead_letter",
    "POST /api/dead-letters/{id}/discard": "Tsbeat.discard_dead_letter",
    "POST /api/dead-letters/replay": "Selection.replay_dead_letters",
    "POST /api/dead-letters/discard": "Selection.discard_dead_letters",
}

__all__: List[str] = ["Tsbeat", "EntryHandle", "Selection", "Deployment", "OPERATIONS"]
