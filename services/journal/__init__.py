"""The per-tenant journal: an append-only JSONL record of every write closeout sends.

Owns ``<state>/tenants/<tenant>/journal.jsonl`` and its lock file. An ``intent`` line is on disk
(written and fsynced) before a batch is sent, an ``outcome`` line after each answer, so that a
killed process or a dropped SSH session can be resumed (:meth:`.writer.Journal.unfinished`) and
the organization can later prove what was deleted, when and by whom. The journal is a record,
not the truth: a resumed run reconciles with a fresh Graph read.

One module per job: the line format, times, run ids and the token guard (:mod:`.records`); what
a read found wrong (:mod:`.health`); what a resume has to reconcile (:mod:`.resume`); reading
the file and its incremental index (:mod:`.reader`); locking, opening and appending
(:mod:`.writer`, home of :class:`~.writer.Journal`).

Import from the module that owns a name; this package re-exports nothing.
"""
