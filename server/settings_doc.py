"""The README's configuration table, generated from `Settings` so the two cannot drift apart
(a test compares them). Run `python -m server.settings_doc` to print it."""

from __future__ import annotations

import json
from typing import Any

from pydantic_core import PydanticUndefined

from server.settings import Settings


def _default(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
        if isinstance(value, list | dict) and not value:
            return "empty"
        return "`~/.cache/vtcr1`" if "cache" in str(value) else f"`{value}`"
    if field.default is PydanticUndefined or field.default is None:
        return "unset"
    if isinstance(field.default, str) and "\n" in field.default:
        return "the VTC-R1 prompt"
    return f"`{json.dumps(field.default)}`"


def settings_table() -> str:
    rows = ["| flag | environment | default | meaning |", "| --- | --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        flag = "--" + name.replace("_", "-")
        env = "VTCR1_" + name.upper()
        rows.append(f"| `{flag}` | `{env}` | {_default(field)} | {field.description or ''} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(settings_table())
