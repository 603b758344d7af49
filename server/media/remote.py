"""Fetching an `http(s)` image URL, only from allow-listed hosts and only from public addresses.

Why each rule: the allow-list keeps the gateway from being a general fetch proxy; the address
check (`addresses.py`) keeps it off internal services and cloud metadata even if an allow-listed
name points inward; connecting to the checked IP (with the original `Host` header and TLS SNI,
so certificates are still verified for the name) defeats DNS rebinding; redirects are not
followed at all (a redirect could go anywhere, and a same-host redirect is rare for images);
proxies from the environment are ignored (they would connect by name); and the size and time
limits bound what one request can make us download.
"""

from __future__ import annotations

import asyncio
import urllib.parse

import httpx

from server.errors import InvalidRequest, PayloadTooLarge
from server.media.addresses import Resolver, resolve_public, system_resolver


def host_allowed(host: str, allowed: list[str]) -> bool:
    """Exact names (case-insensitive); `*.example.com` matches subdomains, not the apex."""
    host = host.lower().rstrip(".")
    for entry in allowed:
        entry = entry.lower().rstrip(".")
        if entry.startswith("*."):
            if host.endswith(entry[1:]) and len(host) > len(entry) - 1:
                return True
        elif host == entry:
            return True
    return False


class RemoteFetcher:
    def __init__(
        self,
        *,
        hosts: list[str],
        max_bytes: int,
        timeout_s: float,
        allow_loopback: bool = False,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.hosts = hosts
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.allow_loopback = allow_loopback
        self.resolver = resolver
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                follow_redirects=False,
                trust_env=False,
                timeout=httpx.Timeout(self.timeout_s),
                headers={"User-Agent": "vtcr1-gateway", "Accept": "image/*"},
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def fetch(self, url: str, *, param: str) -> bytes:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        if parts.username is not None or parts.password is not None:
            raise InvalidRequest(
                "image URLs may not carry credentials", param=param, code="invalid_image_url"
            )
        if not host or not host_allowed(host, self.hosts):
            raise InvalidRequest(
                f"image host {host[:255]!r} is not allowed on this server",
                param=param,
                code="invalid_image_url",
            )
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise InvalidRequest(
                "image URL has an invalid port", param=param, code="invalid_image_url"
            ) from None
        try:
            async with asyncio.timeout(self.timeout_s):
                ip = await resolve_public(
                    host,
                    port,
                    resolver=self.resolver,
                    allow_loopback=self.allow_loopback,
                    param=param,
                )
                return await self._get(url, host, ip, param)
        except TimeoutError:
            raise InvalidRequest(
                f"fetching the image took longer than {self.timeout_s:g} s",
                param=param,
                code="image_fetch_failed",
            ) from None
        except httpx.HTTPError as exc:
            raise InvalidRequest(
                f"fetching the image failed: {type(exc).__name__}",
                param=param,
                code="image_fetch_failed",
            ) from None

    async def _get(self, url: str, host: str, ip: str, param: str) -> bytes:
        original = httpx.URL(url)
        pinned = original.copy_with(host=ip)
        headers = {"Host": original.netloc.decode("ascii")}
        extensions = {"sni_hostname": host} if original.scheme == "https" else {}
        request = self._http().build_request("GET", pinned, headers=headers, extensions=extensions)
        response = await self._http().send(request, stream=True)
        try:
            if response.is_redirect:
                raise InvalidRequest(
                    "the image URL redirects; redirects are not followed",
                    param=param,
                    code="image_fetch_failed",
                )
            if response.status_code != 200:
                raise InvalidRequest(
                    f"fetching the image failed with HTTP {response.status_code}",
                    param=param,
                    code="image_fetch_failed",
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise PayloadTooLarge(f"image larger than {self.max_bytes} bytes", param=param)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > self.max_bytes:
                    raise PayloadTooLarge(f"image larger than {self.max_bytes} bytes", param=param)
            return bytes(body)
        finally:
            await response.aclose()
