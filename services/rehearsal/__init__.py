"""Rehearsing the close-out on a replica of the real tenant (``closeout rehearse FILE``).

:mod:`.run` closes the snapshot's replica out with the real engine and headless driver,
:mod:`.admin` plays the portals' part when closeout hands it over, :mod:`.observe` counts what
each step sent, :mod:`.forecast` turns the counts into real durations from Graph's quotas, and
:mod:`.build` gathers the report (:mod:`.parts`) that :mod:`.report` says as text, JSON and
Markdown.
"""

from __future__ import annotations
