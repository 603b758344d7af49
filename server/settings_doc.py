"""The configuration table of `docs/configuration.md`, generated from `Settings` so the two
cannot drift apart (`tests/test_readme.py` compares them). `python -m server.settings_doc`
prints it; `--write` replaces the table in `docs/configuration.md` after a setting changed."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic_core import PydanticUndefined

from server.settings import Settings

CONFIGURATION_DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
_HEADER = "| flag | environment | default | meaning |"


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
    rows = [_HEADER, "| --- | --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        flag = "--" + name.replace("_", "-")
        env = "VTCR1_" + name.upper()
        rows.append(f"| `{flag}` | `{env}` | {_default(field)} | {field.description or ''} |")
    return "\n".join(rows)


def with_table(doc: str) -> str:
    """`doc` with its settings table (from the header row to the first non-table line)
    replaced by the generated one."""
    lines = doc.split("\n")
    start = lines.index(_HEADER)
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return "\n".join([*lines[:start], settings_table(), *lines[end:]])


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        CONFIGURATION_DOC.write_text(with_table(CONFIGURATION_DOC.read_text()))
    else:
        print(settings_table())
