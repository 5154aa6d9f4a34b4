"""A fresh read of everything the close-out touches: the 'backup' the article asks for.

Users with roles and licences, the recycle bin, subscriptions and SKUs, applications and
service principals, security defaults and Conditional Access. Each part is one or a few paged
Graph reads (``$select`` to keep them at 1 resource unit per page); a part that cannot be read
is recorded with the reason instead of failing the whole inventory.

One module each: :mod:`.model` (the inventory as data, and as the backup's JSON),
:mod:`.reads` (each part's Graph reads, one function per part) and :mod:`.take` (reading the
parts asked for, recording the ones that cannot be read). Import from the module that owns a
name; this package re-exports nothing.
"""
