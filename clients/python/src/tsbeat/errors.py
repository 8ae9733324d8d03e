"""The API's refusals as exceptions.

Every refusal of tsbeat's HTTP API is ``{error, code, problems?}`` with a code of src/base/errors.ts.
Each code a caller is likely to handle has its own class; any other code raises :class:`TsbeatError`
with that code, so a new code on the server never turns into a crash of the client.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Type


class Problem(NamedTuple):
    """One problem of a refused entry: where it is (``entries.nightly.schedule.cron``) and why."""

    path: str
    message: str


class TsbeatError(Exception):
    """A request tsbeat refused, or one that did not reach it (``code`` ``CONNECTION``)."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int = 0,
        problems: Optional[List[Problem]] = None,
        error_id: Optional[str] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.problems: List[Problem] = problems or []
        self.error_id = error_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        lines = [f"{self.message} ({self.code}{', HTTP ' + str(self.status) if self.status else ''})"]
        lines += [f"  {p.path}: {p.message}" for p in self.problems]
        return "\n".join(lines)


class EntryInvalid(TsbeatError):
    """400 ENTRY_INVALID: an entry the schema refuses; ``problems`` names every one."""


class BadRequest(TsbeatError):
    """400 API_BAD_REQUEST (a bad parameter or body) and the other malformed requests."""


class Unauthorized(TsbeatError):
    """401 API_UNAUTHORIZED: no token, or one the deployment does not know."""


class Forbidden(TsbeatError):
    """403 API_FORBIDDEN: the token may not do this (a read token writing, say)."""


class UnknownEntry(TsbeatError):
    """404 UNKNOWN_ENTRY: no entry of that name runs or is stored."""


class EntryIsStatic(TsbeatError):
    """409 ENTRY_IS_STATIC: the config file holds that name; a runtime entry may not take it."""


class OwnerConflict(TsbeatError):
    """409 OWNER_CONFLICT: an apply names an entry another owner (or none) holds; nothing written."""


class PlanStale(TsbeatError):
    """409 PLAN_STALE: the store changed since the plan whose digest the apply carries."""


class DeploymentStopped(TsbeatError):
    """409 DEPLOYMENT_STOPPED: the deployment-wide stop is set."""


class NothingSelected(TsbeatError):
    """409 NOTHING_SELECTED: the selector selects no entry; nothing was done."""


class EntryConflict(TsbeatError):
    """412 ENTRY_CONFLICT: the entry is no longer at the version ``if_match`` named."""


class Busy(TsbeatError):
    """429 API_BUSY: another large body is being written; safe to send again (the client does)."""


class Unavailable(TsbeatError):
    """503: Redis or the broker is away (REDIS_UNAVAILABLE and kin); safe to retry (the client does)."""


class InternalError(TsbeatError):
    """500 INTERNAL: tsbeat's own failure; ``error_id`` finds its log line. Not worth retrying."""


_BY_CODE: Mapping[str, Type[TsbeatError]] = {
    "ENTRY_INVALID": EntryInvalid,
    "SCHEDULE_BUDGET": EntryInvalid,
    "API_BAD_REQUEST": BadRequest,
    "API_URI_TOO_LONG": BadRequest,
    "API_HEADERS_TOO_LARGE": BadRequest,
    "API_BODY_TOO_LARGE": BadRequest,
    "API_UNSUPPORTED_MEDIA_TYPE": BadRequest,
    "API_UNAUTHORIZED": Unauthorized,
    "API_FORBIDDEN": Forbidden,
    "API_FOREIGN_HOST": Forbidden,
    "UNKNOWN_ENTRY": UnknownEntry,
    "ENTRY_IS_STATIC": EntryIsStatic,
    "OWNER_CONFLICT": OwnerConflict,
    "PLAN_STALE": PlanStale,
    "DEPLOYMENT_STOPPED": DeploymentStopped,
    "NOTHING_SELECTED": NothingSelected,
    "ENTRY_CONFLICT": EntryConflict,
    "API_BUSY": Busy,
    "INTERNAL": InternalError,
}


def error_from_reply(status: int, body: Any, retry_after: Optional[float]) -> TsbeatError:
    """The exception for a refusal: its class by code (503s by status), its problems as :class:`Problem`."""
    reply: Dict[str, Any] = body if isinstance(body, dict) else {}
    code = str(reply.get("code") or f"HTTP_{status}")
    message = str(reply.get("error") or f"HTTP {status}")
    problems = [
        Problem(str(p.get("path", "")), str(p.get("message", "")))
        for p in reply.get("problems") or []
        if isinstance(p, dict)
    ]
    error_id = reply.get("errorId")
    cls: Type[TsbeatError] = _BY_CODE.get(code, TsbeatError)
    if status == 503:
        cls = Unavailable
    return cls(
        message,
        code=code,
        status=status,
        problems=problems,
        error_id=str(error_id) if error_id is not None else None,
        retry_after=retry_after,
    )
