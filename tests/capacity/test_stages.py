"""The profile's stage grouping: busy samples of the event loop, by the stage of their stack."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from capacity_parts.stages import breakdown

LOOP = "Runner.run (asyncio/runners.py:118)"
SEND = "RequestResponseCycle.send (uvicorn/protocols/http/httptools_impl.py:544)"
STREAM = "stream_events (server/api/streaming.py:44);sse (server/api/streaming.py:26)"
READ = "OpenAIRemoteEngine._stream_from (server/engines/openai_remote.py:326)"
FLUSH = "_Round.render (runner.py:93);PageStream.flush (renderer/stream.py:200)"


def test_samples_go_to_the_stage_of_their_stack(tmp_path: Path) -> None:
    raw = tmp_path / "gateway.raw"
    raw.write_text(
        "\n".join(
            [
                f"{LOOP};{STREAM};dumps (json/__init__.py:238);encoder_call (_json.c:1309) 3",
                f"{LOOP};{SEND};UVStream__try_write (loop.c:1);write (libc.so.6) 5",
                f"{LOOP};{READ};loads (json/__init__.py:346);scan_once_unicode (_json.c:1) 2",
                f"{LOOP};{FLUSH};_encode_tile (PIL/ImageFile.py:699);deflate (libz.so.1) 4",
                f"{LOOP};uv_run (core.c:464);epoll_pwait (libc.so.6) 50",  # idle: not counted
                "thread_main (x.py:1);PyThread_acquire_lock_timed (libpython3.11.so) 9",
            ]
        )
    )
    stages, total = breakdown(raw)
    assert total == 14
    assert stages == {
        "JSON encode (SSE out)": 3,
        "socket write (syscall)": 5,
        "JSON decode (upstream chunks)": 2,
        "round end (render flush, PNG, image tokens)": 4,
    }
