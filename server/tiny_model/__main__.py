"""`python -m server.tiny_model DIR` (same as `vtcr1 tiny-model DIR`)."""

from server.tiny_model.cli import main

raise SystemExit(main())
