"""``python -m scripts.reliability``: the reliability suite's figures (see the package)."""

from __future__ import annotations

if __name__ == "__main__":
    # Through the package's own name: worker processes find what it defines there.
    from scripts.reliability.cli import main

    raise SystemExit(main())
