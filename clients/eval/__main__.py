"""`python -m clients.eval`, the same as `vtcr1 eval`."""

from clients.eval.cli import main

raise SystemExit(main())
