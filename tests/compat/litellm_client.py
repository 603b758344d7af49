"""LiteLLM's SDK against the gateway, as its docs say to use a vLLM server: the `hosted_vllm/`
provider. Runs in LiteLLM's own venv (not the product's), so it imports nothing of ours.
Prints one JSON object of what `litellm.completion` handed over, plain and streamed.

    <litellm venv>/bin/python litellm_client.py BASE_URL MODEL
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
from typing import Any

import litellm


def plain(base_url: str, model: str) -> dict[str, Any]:
    reply = litellm.completion(
        model=f"hosted_vllm/{model}",
        api_base=base_url,
        api_key="EMPTY",
        messages=[{"role": "user", "content": "What is 17 * 23?"}],
    )
    message = reply.choices[0].message
    return {
        "reasoning_content": getattr(message, "reasoning_content", None),
        "content": message.content,
        "usage": reply.usage.model_dump(),
        "vtc": getattr(reply, "vtc", None),
    }


def streamed(base_url: str, model: str) -> dict[str, Any]:
    stream = litellm.completion(
        model=f"hosted_vllm/{model}",
        api_base=base_url,
        api_key="EMPTY",
        messages=[{"role": "user", "content": "What is 17 * 23?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    reasoning, usage, finish = "", None, None
    for chunk in stream:
        if chunk.choices:
            reasoning += getattr(chunk.choices[0].delta, "reasoning_content", None) or ""
            finish = chunk.choices[0].finish_reason or finish
        if getattr(chunk, "usage", None) is not None:
            usage = chunk.usage.model_dump()
    return {"reasoning_content": reasoning, "usage": usage, "finish": finish}


def main() -> None:
    base_url, model = sys.argv[1:3]
    out = {
        "version": importlib.metadata.version("litellm"),
        "plain": plain(base_url, model),
        "stream": streamed(base_url, model),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
