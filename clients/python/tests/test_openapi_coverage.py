"""The client against the API's own description: every operation of docs/openapi.json is a method of
the client (tsbeat.OPERATIONS says which), and every query parameter and body field of it is a
parameter of that method, so a route or field added to the API fails here until the client has it.

TSBEAT_OPENAPI names the document (test/integration/python-client.test.ts passes the repository's);
without it, the repository's copy beside this package is read.
"""
from __future__ import annotations

import inspect
import json
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Set, Tuple

from tsbeat import OPERATIONS, Deployment, EntryHandle, Selection, Tsbeat

DOCUMENT = Path(os.environ.get("TSBEAT_OPENAPI") or Path(__file__).resolve().parents[3] / "docs" / "openapi.json")
HOLDERS: Dict[str, Any] = {"Tsbeat": Tsbeat, "EntryHandle": EntryHandle, "Selection": Selection, "Deployment": Deployment}
# What a handle already holds: its entry's name, its selector.
HELD = {"name", "selector"}
# A method with one of these parameters takes the request body whole (an entry, a mapping of entries).
WHOLE_BODY = {"entry", "entries"}
# API fields whose Python parameter is not their snake_case (`from` is a keyword; a trigger's and a
# backfill's `waitMs` is `wait`, in seconds as Python counts time), and a path's `id` named for what it is (a
# backfill's, a dead letter's).
RENAMED = {"from": "start", "to": "end", "id": "backfill_id", "waitMs": "wait"}
RENAMED_IN = {"/api/dead-letters/{id}/": {"id": "dead_letter_id"}}


def document() -> Dict[str, Any]:
    doc: Dict[str, Any] = json.loads(DOCUMENT.read_text())
    assert str(doc["openapi"]).startswith("3.1"), doc["openapi"]
    return doc


def operations(doc: Dict[str, Any]) -> List[Tuple[str, Dict[str, Any]]]:
    return [(f"{method.upper()} {path}", op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def resolved(doc: Dict[str, Any], schema: Dict[str, Any]) -> Dict[str, Any]:
    while "$ref" in schema:
        node: Any = doc
        for part in str(schema["$ref"]).lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def parameters_of(op: Dict[str, Any]) -> Set[str]:
    return {str(p["name"]) for p in op.get("parameters", []) if p.get("in") in ("query", "path")}


def body_fields_of(doc: Dict[str, Any], op: Dict[str, Any]) -> Set[str]:
    schema = (op.get("requestBody") or {}).get("content", {}).get("application/json", {}).get("schema")
    return set(resolved(doc, schema).get("properties", {})) if schema is not None else set()


def snake(name: str, key: str = "") -> str:
    renamed = next((names[name] for path, names in RENAMED_IN.items() if path in key and name in names), RENAMED.get(name, name))
    return re.sub(r"(?<!^)(?=[A-Z])", "_", renamed).lower()


def signature_of(target: str) -> Set[str]:
    holder, _, method = target.partition(".")
    return set(inspect.signature(getattr(HOLDERS[holder], method)).parameters) - {"self"}


def test_every_operation_is_a_method_and_every_field_a_parameter() -> None:
    doc = document()
    missing: List[str] = []
    for key, op in operations(doc):
        if key not in OPERATIONS:
            missing.append(f"{key}: no method of the client (add one, and its line in tsbeat.client.OPERATIONS)")
            continue
        target = OPERATIONS[key]
        if target is None:  # left to other readers on purpose (see OPERATIONS)
            continue
        params = signature_of(target)
        fields = parameters_of(op) - HELD
        if not params & WHOLE_BODY:
            fields |= body_fields_of(doc, op)
        missing += [f"{key}: {f!r} is not a parameter of {target}" for f in sorted(fields) if snake(f, key) not in params]
    assert not missing, "\n".join(missing)


def test_the_table_names_only_routes_of_the_document_and_methods_that_exist() -> None:
    served = {key for key, _ in operations(document())}
    assert sorted(set(OPERATIONS) - served) == []
    for target in OPERATIONS.values():
        if target is not None:
            signature_of(target)
