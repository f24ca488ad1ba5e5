"""Backward compatibility of the event schemas: a new version against the one before it.

The schemas in ``schemas/`` are JSON Schemas named ``<stream>.<layout>.v<N>.json`` with
``x-stream``, ``x-layout`` and ``x-version``. A new version is compatible when every event valid
under the previous one stays valid and the warehouse reads it as before (docs/schema_policy.md):

- no field removed (required or optional: the warehouse reads every declared field);
- no required field made optional, and no new required field;
- no type narrowed; the only widenings are integer to number and null added to an optional field;
- no unit changed (``x-unit``), no enumeration changed, no range narrowed;
- not closed to new fields (``additionalProperties`` false).

Fields are compared by path: ``charger_phases[].ac_current_rms`` for a field of the phase elements.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA_NAME = re.compile(
    r"^(?P<stream>[a-z_]+)\.(?P<layout>[a-z_]+)\.v(?P<version>[1-9][0-9]*)\.json$"
)


class SchemaError(Exception):
    """A schema file that cannot be compared: not a valid JSON Schema, or misnamed."""


@dataclass(frozen=True)
class SchemaFile:
    """One version of the schema of a stream's layout."""

    path: Path
    stream: str
    layout: str
    version: int
    schema: dict[str, Any]


@dataclass(frozen=True)
class Field:
    """A declared field: its JSON types, unit, enumeration and range, and whether it is required."""

    types: frozenset[str]
    required: bool
    unit: str | None
    enum: tuple[Any, ...] | None
    minimum: float | None
    maximum: float | None


def load_schema(path: Path) -> SchemaFile:
    """Read and check one schema file: a valid JSON Schema whose name matches its x- keywords."""
    match = SCHEMA_NAME.match(path.name)
    if not match:
        raise SchemaError(f"{path.name}: not named <stream>.<layout>.v<N>.json")
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise SchemaError(f"{path.name}: not JSON ({error})") from error
    try:
        Draft202012Validator.check_schema(schema)
    except Exception as error:  # jsonschema's SchemaError, with a long message
        raise SchemaError(f"{path.name}: not a valid JSON Schema ({error.args[0]})") from error
    stream, layout, version = match["stream"], match["layout"], int(match["version"])
    declared = (schema.get("x-stream"), schema.get("x-layout"), schema.get("x-version"))
    if declared != (stream, layout, version):
        raise SchemaError(f"{path.name}: x-stream, x-layout, x-version say {declared}")
    if f"v{version}" not in str(schema.get("$id", "")):
        raise SchemaError(f"{path.name}: $id {schema.get('$id')!r} does not name v{version}")
    return SchemaFile(path, stream, layout, version, schema)


def load_schemas(folder: Path) -> dict[tuple[str, str], list[SchemaFile]]:
    """Every schema file of ``folder``, by (stream, layout), oldest version first."""
    groups: dict[tuple[str, str], list[SchemaFile]] = {}
    for path in sorted(folder.glob("*.json")):
        schema = load_schema(path)
        groups.setdefault((schema.stream, schema.layout), []).append(schema)
    for (stream, layout), versions in groups.items():
        versions.sort(key=lambda schema: schema.version)
        numbers = [schema.version for schema in versions]
        if numbers != list(range(1, len(numbers) + 1)):
            raise SchemaError(f"{stream}.{layout}: versions {numbers} are not 1, 2, ... in a row")
    return groups


def _types(node: dict[str, Any]) -> frozenset[str]:
    declared = node.get("type", [])
    return frozenset([declared] if isinstance(declared, str) else declared)


def fields(schema: dict[str, Any], prefix: str = "") -> dict[str, Field]:
    """The declared fields of an object schema by path, the items of arrays of objects included."""
    required = set(schema.get("required", []))
    found: dict[str, Field] = {}
    for name, node in schema.get("properties", {}).items():
        path = prefix + name
        found[path] = Field(
            types=_types(node),
            required=name in required,
            unit=node.get("x-unit"),
            enum=tuple(node["enum"]) if "enum" in node else None,
            minimum=node.get("minimum"),
            maximum=node.get("maximum", node.get("maxItems")),
        )
        items = node.get("items")
        if isinstance(items, dict) and "properties" in items:
            found.update(fields(items, f"{path}[]."))
    return found


def _closed_objects(schema: dict[str, Any], prefix: str = "") -> set[str]:
    """Paths of the objects that refuse keys they do not declare ('' for the event itself)."""
    closed = {prefix.removesuffix(".")} if schema.get("additionalProperties") is False else set()
    for name, node in schema.get("properties", {}).items():
        items = node.get("items")
        if isinstance(items, dict):
            closed |= _closed_objects(items, f"{prefix}{name}[].")
    return closed


def breaking_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What in ``new`` breaks events or readers of ``old``, one line each; empty when compatible."""
    before, after = fields(old), fields(new)
    problems = []
    for path, was in before.items():
        now = after.get(path)
        if now is None:
            problems.append(
                f"{path}: field removed" + (" (it was required)" if was.required else "")
            )
            continue
        if was.required and not now.required:
            problems.append(f"{path}: required field made optional")
        lost = {
            kind
            for kind in was.types - now.types
            if not (kind == "integer" and "number" in now.types)
        }
        if lost:
            problems.append(f"{path}: type narrowed, {_names(was.types)} -> {_names(now.types)}")
        allowed = {"number"} if "integer" in was.types else set()
        if "number" in was.types:
            allowed.add("integer")  # a subset of number: narrowing, reported above
        if not now.required:
            allowed.add("null")
        added = now.types - was.types - allowed
        if added:
            problems.append(f"{path}: type changed to {_names(now.types)}, was {_names(was.types)}")
        if was.unit != now.unit:
            problems.append(f"{path}: unit changed, {was.unit} -> {now.unit}")
        if was.enum != now.enum:
            problems.append(f"{path}: allowed values changed, {was.enum} -> {now.enum}")
        if now.minimum is not None and (was.minimum is None or now.minimum > was.minimum):
            problems.append(f"{path}: minimum raised, {was.minimum} -> {now.minimum}")
        if now.maximum is not None and (was.maximum is None or now.maximum < was.maximum):
            problems.append(f"{path}: maximum lowered, {was.maximum} -> {now.maximum}")
    for path, now in after.items():
        if path not in before and now.required:
            problems.append(f"{path}: new required field")
    for path in sorted(_closed_objects(new) - _closed_objects(old)):
        problems.append(f"{path or 'the event'}: closed to new fields (additionalProperties false)")
    return problems


def _names(types: frozenset[str]) -> str:
    return "|".join(sorted(types)) or "any"


def check_latest_versions(folder: Path) -> dict[str, list[str]]:
    """For each stream layout with two versions or more: latest file name -> breaking changes."""
    results = {}
    for versions in load_schemas(folder).values():
        if len(versions) < 2:
            continue
        previous, latest = versions[-2], versions[-1]
        results[latest.path.name] = breaking_changes(previous.schema, latest.schema)
    return results


def latest_schemas(folder: Path) -> dict[tuple[str, str], SchemaFile]:
    """The latest version of each stream layout."""
    return {key: versions[-1] for key, versions in load_schemas(folder).items()}
