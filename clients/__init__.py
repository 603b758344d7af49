"""Command-line clients of a VTC-R1 server: `vtcr1 chat`, `vtcr1 bench`, `vtcr1 eval`.

They talk to the server over HTTP only, through the official `openai` SDK, so they run against
any OpenAI-compatible endpoint and import nothing of the server.
"""
