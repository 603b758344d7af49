"""Engines: the port (`base`) and its adapters (`vllm_local`, `openai_remote`), built by
`factory.create_engine`. Adapters import vLLM lazily, so importing this package is cheap."""
