"""`python -m clients.bench`, the same as `vtcr1 bench`."""

from clients.bench.cli import main

raise SystemExit(main())
