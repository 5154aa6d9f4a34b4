"""The five steps of Microsoft's "Close your account" procedure, one module each, UI-free.

``prepare`` (step 0, before you begin), ``users`` (1, with ``dirsync``: turning directory sync
off once), ``subscriptions`` (2 and 3: handoffs),
``mfa`` (4) and ``directory`` (5). Each offers ``assess`` (state from a fresh Graph read) and,
where an API exists, ``run``; :mod:`services.engine` drives them.
"""
