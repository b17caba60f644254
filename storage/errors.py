"""The one error storage raises: the message names the database, what failed and what to do."""


class StorageError(RuntimeError):
    """The database refused a read or a write (unreachable, read-only, disk full, schema too new)."""
