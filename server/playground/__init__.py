"""The browser playground: static HTML, CSS and ES-module JavaScript, served by
`server/api/routes_playground.py` at `/`.

No build step and nothing from elsewhere (no CDN, fonts or scripts from other origins): the
server may run air-gapped, and the page calls only the public API, as any client does.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
