"""The VTC-R1 serving gateway: OpenAI-compatible API -> VTC loop -> engine."""

__version__ = "0.1.0"
