"""Decoding the images of a request (`image_url` parts) into PIL images, safely.

`data:` URLs are decoded here; http(s) and file: images arrive as bytes already loaded under
their own rules (`server/media/`) and go through `open_image`. The encoded size is checked
before decoding and the pixel count from the header before the pixels are decoded, so a
decompression bomb costs nothing.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings

from PIL import Image, UnidentifiedImageError

from server.errors import InvalidRequest, PayloadTooLarge

_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^,;]*)*),", re.ASCII)


def decode_image_url(url: str, *, param: str, max_bytes: int, max_pixels: int) -> Image.Image:
    match = _DATA_URL.match(url)
    if match is None:
        scheme = url.split(":", 1)[0][:16] if ":" in url else "none"
        raise InvalidRequest(
            f"only data: image URLs are accepted here (got scheme {scheme!r})",
            param=param,
            code="invalid_image_url",
        )
    if ";base64" not in match.group("params"):
        raise InvalidRequest(
            "image data URLs must be base64", param=param, code="invalid_image_url"
        )
    payload = url[match.end() :]
    if len(payload) * 3 // 4 > max_bytes:
        raise PayloadTooLarge(f"image larger than {max_bytes} bytes", param=param)
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(
            "image data is not valid base64", param=param, code="invalid_image"
        ) from None
    return open_image(raw, param=param, max_pixels=max_pixels)


def open_image(raw: bytes, *, param: str, max_pixels: int) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(raw))
            width, height = image.size
            if width * height > max_pixels:
                raise PayloadTooLarge(
                    f"image of {width}x{height} px exceeds {max_pixels} pixels", param=param
                )
            image.load()
    except PayloadTooLarge:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PayloadTooLarge("image refused as a decompression bomb", param=param) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise InvalidRequest(
            f"cannot decode image: {exc}", param=param, code="invalid_image"
        ) from None
    if image.mode != "RGB":
        image = image.convert("RGB")
    return image
