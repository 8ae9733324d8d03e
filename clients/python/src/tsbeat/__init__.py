"""tsbeat's Python client: ``Tsbeat(url, token)`` with every verb of the HTTP API, and entries
written from Celery's own schedules and signatures (:func:`entry`)."""
from .celery_forms import NotConvertible, entry, schedule_of, signature_of
from .client import Deployment, EntryHandle, Selection, Tsbeat
from .errors import (
    BadRequest,
    Busy,
    DeploymentStopped,
    EntryConflict,
    EntryInvalid,
    EntryIsStatic,
    Forbidden,
    InternalError,
    NothingSelected,
    OwnerConflict,
    PlanStale,
    Problem,
    TsbeatError,
    Unauthorized,
    Unavailable,
    UnknownEntry,
)

__all__ = [
    "BadRequest",
    "Busy",
    "Deployment",
    "DeploymentStopped",
    "EntryConflict",
    "EntryHandle",
    "EntryInvalid",
    "EntryIsStatic",
    "Forbidden",
    "InternalError",
    "NotConvertible",
    "NothingSelected",
    "OwnerConflict",
    "PlanStale",
    "Problem",
    "Selection",
    "Tsbeat",
    "TsbeatError",
    "Unauthorized",
    "Unavailable",
    "UnknownEntry",
    "entry",
    "schedule_of",
    "signature_of",
]
