"""``python -m raysweep``: the ``raysweep`` command."""

from raysweep.cli import main

raise SystemExit(main())
