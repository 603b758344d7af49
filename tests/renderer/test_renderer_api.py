"""API contract: styles, errors, PNG determinism, robustness, thread safety, CLI, tokens."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import random
import threading
from pathlib import Path

import pytest
from PIL import Image

import renderer
from renderer import (
    DEFAULT_STYLE,
    DPI96_STYLE,
    GLYPH_VERDANA_STYLE,
    VTC_R1_STYLE,
    FontNotFoundError,
    PageStream,
    PageStyle,
    RendererError,
    encode_png,
    render_pages,
)
from renderer.cli import main
from renderer.vision_tokens import GLM4V, QWEN3VL, smart_resize, vision_tokens
from tests.renderer.corpus import math_reasoning


def test_default_style_is_vtc_r1_eval_config() -> None:
    assert DEFAULT_STYLE is VTC_R1_STYLE
    s = DEFAULT_STYLE
    assert (s.page_width, s.page_height, s.dpi) == (595, 842, 72)
    assert (s.font_size, s.leading, s.margin_x, s.margin_y) == (9, 10, 10, 10)
    assert s.font_path.endswith("DejaVuSans.ttf")
    assert s.crop_width and s.crop_last_page
    assert s.lines_per_page == 81 and s.text_width == 563
    assert DPI96_STYLE.dpi == 96 and "erdana" in GLYPH_VERDANA_STYLE.font_path
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.dpi = 96  # type: ignore[misc]


def test_missing_font_raises_clear_error(tmp_path: Path) -> None:
    style = PageStyle(font_path=str(tmp_path / "Nope.ttf"))
    with pytest.raises(FontNotFoundError) as exc:
        render_pages("hello", style)
    assert str(tmp_path / "Nope.ttf") in str(exc.value)
    assert "fonts-dejavu-core" in str(exc.value)
    assert isinstance(exc.value, RendererError)
    with pytest.raises(RendererError):
        PageStream(style)


def test_verdana_preset_constructs_and_fails_only_when_rendering() -> None:
    if Path(GLYPH_VERDANA_STYLE.font_path).exists():
        assert render_pages("hi", GLYPH_VERDANA_STYLE)
    else:
        with pytest.raises(FontNotFoundError, match="Verdana"):
            render_pages("hi", GLYPH_VERDANA_STYLE)


def test_png_bytes_are_deterministic_and_metadata_free() -> None:
    text = math_reasoning(random.Random(1), 150)
    a = [encode_png(p) for p in render_pages(text)]
    b = [encode_png(p) for p in render_pages(text)]
    assert a == b and len(a) >= 1
    assert b"tIME" not in a[0] and b"tEXt" not in a[0] and b"pHYs" not in a[0]
    img = render_pages(text)[0]
    img.info["comment"] = "x"
    assert encode_png(img) == a[0]
    decoded = Image.open(io.BytesIO(a[0]))
    assert decoded.mode == "L"  # gray pages are written as grayscale PNGs
    assert decoded.convert("RGB").tobytes() == img.tobytes()
    colour = Image.new("RGB", (4, 4), (255, 0, 0))
    assert Image.open(io.BytesIO(encode_png(colour))).tobytes() == colour.tobytes()


@pytest.mark.parametrize(
    "text",
    [
        "\x00\x01\x02\x7f\ufffe\uffff",
        "\ud800 lone surrogate \udfff",
        "😀" * 500 + "\U0010fffd",
        "مرحبا بالعالم שלום עולם",
        "\u0301\u0301\u0301",
        "\t\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\u2028\u2029\u3000",
        "中" + "\u0301" * 10,
    ],
)
def test_any_unicode_renders(text: str) -> None:
    pages = render_pages(text)
    assert pages and all(p.mode == "RGB" and p.height > 0 for p in pages)


def test_one_megabyte_without_newline_is_bounded_by_max_pages() -> None:
    text = "abc def " * (1 << 17)
    pages = render_pages(text, max_pages=2)
    assert len(pages) == 2
    assert all(p.height == 842 for p in pages)  # not last: no height crop
    token = "x" * (1 << 20)
    assert len(render_pages(token, max_pages=1)) == 1


def test_empty_text_gives_one_blank_page_like_the_reference() -> None:
    (page,) = render_pages("")
    assert page.size == (595, 842)
    assert render_pages("hi", max_pages=0) == []


def test_thread_safety_same_pixels() -> None:
    texts = [math_reasoning(random.Random(i), 120) for i in range(4)]
    expected = [[p.tobytes() for p in render_pages(t)] for t in texts]
    results: dict[int, list[bytes]] = {}

    def work(i: int) -> None:
        results[i] = [p.tobytes() for p in render_pages(texts[i % 4])]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(8):
        assert results[i] == expected[i % 4]


def test_vision_tokens() -> None:
    assert vision_tokens(595, 842, GLM4V) == 630  # 588 x 840
    assert smart_resize(842, 595, 28, GLM4V.min_pixels, GLM4V.max_pixels) == (840, 588)
    assert vision_tokens(595, 842, GLM4V, max_pixels=262_144) < 630
    assert vision_tokens(595, 842, QWEN3VL) == 494
    small = vision_tokens(120, 40, QWEN3VL)
    assert small * 32 * 32 >= 65_536  # scaled up to the minimum


def test_cli_writes_pages_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.txt"
    src.write_text(math_reasoning(random.Random(2), 300), encoding="utf-8")
    out = tmp_path / "out"
    assert main([str(src), "-o", str(out), "--max-pages", "2"]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == ["page_001.png", "page_002.png"]
    report = capsys.readouterr().out
    assert "GLM-4.1V" in report and "Qwen3-VL" in report and "pages: 2" in report
    assert "text tokens" in report
    digest = hashlib.sha256((out / "page_001.png").read_bytes()).hexdigest()
    assert main([str(src), "-o", str(tmp_path / "o2"), "--max-pages", "1"]) == 0
    assert hashlib.sha256((tmp_path / "o2" / "page_001.png").read_bytes()).hexdigest() == digest
    assert main([str(tmp_path / "missing.txt"), "-o", str(out)]) == 2


def test_public_names() -> None:
    for name in renderer.__all__:
        assert hasattr(renderer, name)
