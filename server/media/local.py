"""`file:` image URLs, read only from inside the configured media directory.

Why so strict: the path comes from the client. The path is resolved (symlinks included) and must
stay inside the resolved media directory, so `..` and symlinks pointing out are refused; the final
open refuses a symlink swapped in after the check (`O_NOFOLLOW`) and anything but a regular file
(a FIFO or device would block or stream forever). The size is checked before reading.
"""

from __future__ import annotations

import os
import stat
import urllib.parse
from pathlib import Path

from server.errors import InvalidRequest, PayloadTooLarge


def _refused(reason: str, param: str) -> InvalidRequest:
    return InvalidRequest(
        f"file: image URL refused: {reason}", param=param, code="invalid_image_url"
    )


def media_path(url: str, media_dir: Path, *, param: str) -> Path:
    """The real path `url` names, if it is inside `media_dir` (as vLLM's
    `--allowed-local-media-path`: absolute paths under the directory)."""
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
        raise _refused("only file:///absolute/path URLs on this host", param)
    path = urllib.parse.unquote(parts.path)
    if not path.startswith("/"):
        raise _refused("the path must be absolute", param)
    if "\x00" in path:
        raise _refused("NUL in path", param)
    if ".." in Path(path).parts:
        raise _refused("path traversal", param)
    root = media_dir.resolve(strict=True)
    try:
        real = Path(path).resolve(strict=True)
    except (OSError, RuntimeError):
        raise _refused("no such file", param) from None
    if not real.is_relative_to(root):
        raise _refused("outside the media directory", param)
    return real


def read_media_file(url: str, media_dir: Path, *, max_bytes: int, param: str) -> bytes:
    real = media_path(url, media_dir, param=param)
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise _refused(f"cannot open ({exc.strerror})", param) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise _refused("not a regular file", param)
    with os.fdopen(fd, "rb") as handle:
        if info.st_size > max_bytes:
            raise PayloadTooLarge(f"image larger than {max_bytes} bytes", param=param)
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"image larger than {max_bytes} bytes", param=param)
    return data
