"""`python -m clients.chat`, the same as `vtcr1 chat`."""

from clients.chat.cli import main

raise SystemExit(main())
