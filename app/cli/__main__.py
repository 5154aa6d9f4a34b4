"""``python -m app.cli``: the same as the ``closeout`` command."""

from __future__ import annotations

from .main import main

raise SystemExit(main())
