"""Benchmark: this tree's renderer against the renderer at another git revision, in one process.

For refactors that must not move pixels or speed. On a shared machine, runs of two trees in
separate processes differ by more than the change being measured (load moves both sides by
+-30% from run to run), so this loads both renderers into one process (the other revision's
``renderer/`` exported with ``git archive`` and imported as ``renderer_base``) and alternates
them on the same fresh text variants, in CPU time with the garbage collector off while timing.
Measures ``render_pages`` per page and ``PageStream`` (4-character chunks, feed + flush) per
page; checks every page is identical between the two.

Run: ``.venv/bin/python benchmarks/render_ab.py [--base main] [--rounds 8] [--seed S]``.
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib
import io
import random
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import renderer
from tests.renderer.corpus import math_reasoning, prose, variant

ROOT = Path(__file__).resolve().parents[1]

_IMPORT = re.compile(r"\b(from|import) renderer\b")


def load_base(rev: str, into: Path) -> ModuleType:
    """The renderer package as of ``rev``, imported as ``renderer_base``."""
    tar = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "renderer"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        tf.extractall(into, filter="data")
    pkg = into / "renderer_base"
    (into / "renderer").rename(pkg)
    for path in pkg.rglob("*.py"):
        path.write_text(_IMPORT.sub(r"\1 renderer_base", path.read_text()))
    sys.path.insert(0, str(into))
    return importlib.import_module("renderer_base")


def _texts() -> list[tuple[str, str]]:
    return [
        ("math 1p", math_reasoning(random.Random(12345), 60)),
        ("math 4p", math_reasoning(random.Random(12346), 320)),
        ("math 12p", math_reasoning(random.Random(12347), 1000)),
        ("prose 3p", prose(random.Random(12348), 12)),
        ("prose 10p", prose(random.Random(12349), 40)),
        ("para 4p", prose(random.Random(12350), 16).replace("\n", " ")),
        ("cjk 3p", prose(random.Random(12351), 12) + "\u4e2d\u6587"),
    ]


def _timed(fn: Callable[[], list[Any]]) -> tuple[float, list[Any]]:
    gc.collect()
    gc.disable()
    try:
        t0 = time.process_time()
        pages = fn()
        return time.process_time() - t0, pages
    finally:
        gc.enable()


def _render(mod: Any, text: str) -> list[Any]:
    return list(mod.render_pages(text))


def _stream(mod: Any, text: str) -> list[Any]:
    s = mod.PageStream()
    out: list[Any] = []
    for i in range(0, len(text), 4):
        out += s.feed(text[i : i + 4])
    return out + s.flush()


def _same(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(x.tobytes() == y.tobytes() for x, y in zip(a, b, strict=True))


def _compare(
    name: str, run: Callable[[Any, str], list[Any]], mods: dict[str, Any], args: Any
) -> bool:
    """One table: per text, base and new ms/page (CPU) and new/base; True if all identical."""
    rng = random.Random(args.seed)
    print(f"{name}: CPU ms/page, {args.rounds} rounds, base {args.base} vs this tree, alternating")
    print(f"{'text':<10} {'pages':>5} {'base':>7} {'new':>7} {'new/base':>8} identical")
    total = {"base": 0.0, "new": 0.0}
    total_pages = 0
    all_ok = True
    for label, text in _texts():
        spent = {"base": 0.0, "new": 0.0}
        pages = 0
        ok = True
        for r in range(args.rounds):
            t = variant(text, rng)
            order = ["base", "new"] if r % 2 == 0 else ["new", "base"]
            got = {side: _timed(functools.partial(run, mods[side], t)) for side in order}
            for side in order:
                spent[side] += got[side][0]
            pages += len(got["base"][1])
            ok = ok and _same(got["base"][1], got["new"][1])
        all_ok = all_ok and ok
        total["base"] += spent["base"]
        total["new"] += spent["new"]
        total_pages += pages
        print(f"{label:<10} {pages // args.rounds:>5} {1e3 * spent['base'] / pages:>7.2f} "
              f"{1e3 * spent['new'] / pages:>7.2f} {spent['new'] / spent['base']:>8.3f} "
              f"{'yes' if ok else 'NO'}")  # fmt: skip
    print(f"{'all':<10} {total_pages:>5} {1e3 * total['base'] / total_pages:>7.2f} "
          f"{1e3 * total['new'] / total_pages:>7.2f} {total['new'] / total['base']:>8.3f} "
          f"{'yes' if all_ok else 'NO'}")  # fmt: skip
    return all_ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--base", default="main", help="git revision to compare against")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        mods = {"base": load_base(args.base, Path(tmp)), "new": renderer}
        warm = math_reasoning(random.Random(-1), 200) + prose(random.Random(-2), 5)
        for mod in mods.values():  # JIT (the base copy compiles its own), fonts, glyphs
            _render(mod, warm)
            _stream(mod, warm)
        ok = _compare("render_pages", _render, mods, args)
        print()
        ok = _compare("PageStream", _stream, mods, args) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
