"""README.md stays true to the code: the configuration table, the metric names, the opening
commands."""

from __future__ import annotations

import re
from pathlib import Path

from server.metrics import Metrics
from server.settings_doc import settings_table

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_configuration_table_is_the_generated_one() -> None:
    assert settings_table() in README


def test_every_metric_is_documented() -> None:
    names = {
        family.name + ("_total" if family.type == "counter" else "")
        for family in Metrics().registry.collect()
    }
    assert len(names) == 14
    missing = sorted(n for n in names if f"`{n}`" not in README)
    assert not missing


def test_readme_opens_with_the_two_commands() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README, re.DOTALL)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands[:2] == ["make serve", "make test"]
