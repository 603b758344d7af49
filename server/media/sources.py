"""Loading the non-`data:` images of a request before translation: remote and local bytes.

Runs before the request is translated (and before any engine work), so every failure is a status
code. The image count is checked before anything is fetched, so one request cannot make the
gateway download more than `max_input_images` files; fetches run concurrently and the first
failure cancels the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from server.errors import InvalidRequest
from server.media.local import read_media_file
from server.media.remote import RemoteFetcher
from server.settings import Settings


def scheme_of(url: str) -> str:
    return url.split(":", 1)[0].lower() if ":" in url else ""


class ImageSources:
    def __init__(self, settings: Settings, remote: RemoteFetcher | None = None) -> None:
        self.settings = settings
        if remote is None and settings.allow_remote_images:
            remote = RemoteFetcher(
                hosts=settings.remote_image_hosts,
                max_bytes=settings.max_image_bytes,
                timeout_s=settings.remote_image_timeout_s,
                allow_loopback=settings.unsafe_allow_loopback_images,
            )
        self.remote = remote

    async def aclose(self) -> None:
        if self.remote is not None:
            await self.remote.aclose()

    async def load(self, urls: Sequence[tuple[str, str]]) -> dict[str, bytes]:
        """Bytes of every http(s)/file image URL of `urls` ((url, param) pairs), by URL. Other
        schemes are left to the decoder (`data:` is decoded there, anything else refused)."""
        if len(urls) > self.settings.max_input_images:
            raise InvalidRequest(
                f"too many images ({len(urls)} > {self.settings.max_input_images})",
                param="messages",
            )
        jobs: dict[str, asyncio.Task[bytes]] = {}
        try:
            for url, param in urls:
                if url in jobs:
                    continue
                scheme = scheme_of(url)
                if scheme in ("http", "https"):
                    jobs[url] = asyncio.create_task(self._remote(url, param))
                elif scheme == "file":
                    jobs[url] = asyncio.create_task(self._local(url, param))
            if jobs:
                await asyncio.wait(jobs.values(), return_when=asyncio.FIRST_EXCEPTION)
                for task in jobs.values():
                    if task.done() and (error := task.exception()) is not None:
                        raise error
            return {url: task.result() for url, task in jobs.items()}
        finally:
            for task in jobs.values():
                task.cancel()
            await asyncio.gather(*jobs.values(), return_exceptions=True)

    async def _remote(self, url: str, param: str) -> bytes:
        if self.remote is None:
            raise InvalidRequest(
                "remote image URLs are not enabled on this server; send a data: URL",
                param=param,
                code="invalid_image_url",
            )
        return await self.remote.fetch(url, param=param)

    async def _local(self, url: str, param: str) -> bytes:
        media_dir = self.settings.media_dir
        if media_dir is None:
            raise InvalidRequest(
                "file: image URLs are not enabled on this server; send a data: URL",
                param=param,
                code="invalid_image_url",
            )
        return await asyncio.to_thread(
            read_media_file, url, media_dir, max_bytes=self.settings.max_image_bytes, param=param
        )
