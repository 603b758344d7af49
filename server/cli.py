"""The `vtcr1` command: one entry point, a subcommand per job.

Each subcommand lives with the code it drives and is imported only when chosen, so `vtcr1 render`
needs neither vLLM nor the server, and the clients need nothing of the server.
"""

from __future__ import annotations

import importlib
import sys

SUBCOMMANDS = {
    "serve": ("server.serve", "start the OpenAI-compatible gateway"),
    "render": ("renderer.cli", "render text to VTC-R1 pages"),
    "tiny-model": ("server.tiny_model.cli", "build the tiny test model"),
    "chat": ("clients.chat", "ask the server one question, streaming"),
    "bench": ("clients.bench", "load benchmark: vtc vs baseline"),
    "eval": ("clients.eval", "the paper's evaluation through the API"),
}


def usage() -> str:
    lines = ["usage: vtcr1 <command> [options]", "", "commands:"]
    lines += [f"  {name:<11} {help_text}" for name, (_, help_text) in SUBCOMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        print(f"vtcr1: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[name][0])
    result: int = module.main(rest)
    return result


if __name__ == "__main__":
    sys.exit(main())
