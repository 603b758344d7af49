"""README.md and docs/ stay true to the code and to each other: the configuration table, the
metric names, the opening commands, the README's length, and every relative link."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from server.metrics import Metrics
from server.settings_doc import CONFIGURATION_DOC, settings_table, with_table

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DOCS = sorted((ROOT / "docs").glob("*.md"))
MARKDOWN = [ROOT / "README.md", *DOCS]

_FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1", re.DOTALL | re.MULTILINE)
_CODE_SPAN = re.compile(r"(`+).+?\1", re.DOTALL)
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)


def test_configuration_table_is_the_generated_one() -> None:
    doc = CONFIGURATION_DOC.read_text()
    assert settings_table() in doc
    assert with_table(doc) == doc


def test_every_metric_is_documented() -> None:
    names = {
        family.name + ("_total" if family.type == "counter" else "")
        for family in Metrics().registry.collect()
    }
    assert len(names) == 18
    reference = (ROOT / "docs" / "deployment.md").read_text()
    missing = sorted(n for n in names if f"`{n}`" not in reference)
    assert not missing


def test_readme_opens_with_the_two_commands() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README, re.DOTALL)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands[:2] == ["make serve", "make test"]


def test_readme_is_a_first_ten_minutes_read() -> None:
    # Issue 11: everything past what a newcomer needs first lives in docs/.
    assert len(README.splitlines()) <= 250


def github_anchor(heading: str) -> str:
    """GitHub's heading id (github-slugger): the rendered text lower-cased, punctuation other
    than `-` and `_` dropped, each space a `-`."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links -> their text
    text = re.sub(r"[`*]", "", text).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every heading id of a document, with GitHub's `-1`, `-2` suffixes for repeats."""
    seen: dict[str, int] = {}
    ids = set()
    for heading in _HEADING.findall(_FENCE.sub("", markdown)):
        slug = github_anchor(heading)
        ids.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return ids


def relative_links(markdown: str) -> list[str]:
    prose = _CODE_SPAN.sub("", _FENCE.sub("", markdown))
    return [t for t in _LINK.findall(prose) if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def test_github_anchor_rules() -> None:
    assert github_anchor("Streaming (`PageStream`)") == "streaming-pagestream"
    assert github_anchor("Renderer vs reportlab + poppler") == "renderer-vs-reportlab--poppler"
    assert github_anchor("PageStream.flush at the end of a round") == (
        "pagestreamflush-at-the-end-of-a-round"
    )
    assert anchors("# Tests\n```\n# not a heading\n```\n## Tests\n") == {"tests", "tests-1"}
    assert relative_links("[a](x.md#y) `[b](no.md)` [c](https://e.org) ![d](p.png)") == [
        "x.md#y",
        "p.png",
    ]


@pytest.mark.parametrize("doc", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(doc: Path) -> None:
    broken = []
    for link in relative_links(doc.read_text()):
        path, _, anchor = unquote(link).partition("#")
        target = (doc.parent / path).resolve() if path else doc
        if not target.exists():
            broken.append(f"{link}: no such file")
        elif anchor and (target.suffix != ".md" or anchor not in anchors(target.read_text())):
            broken.append(f"{link}: no heading #{anchor}")
    assert not broken
