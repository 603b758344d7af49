"""Exceptions raised by the renderer (one base class so callers can catch them all)."""

from __future__ import annotations


class RendererError(Exception):
    """Base class of every error the renderer raises on purpose."""


class FontNotFoundError(RendererError, FileNotFoundError):
    """The style's font file does not exist; the message says how to install it."""

    def __init__(self, path: str) -> None:
        hint = (
            "install it (Debian/Ubuntu: `apt-get install fonts-dejavu-core` for DejaVuSans) "
            "or pass a PageStyle whose font_path points to an existing TrueType font"
        )
        if "verdana" in path.lower():
            hint = (
                "Verdana is not free software and is not packaged by Debian; copy Verdana.ttf "
                "to that path (or set font_path), or use VTC_R1_STYLE (DejaVuSans, package "
                "fonts-dejavu-core)"
            )
        super().__init__(f"font file not found: {path}: {hint}")
        self.path = path
