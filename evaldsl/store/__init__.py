"""The run store: the response cache and stored runs behind one interface (`Store`), kept in an SQLite file (the
default) or on a PostgreSQL server; where the store lives, and redaction."""

from .core import SCHEMA_VERSION, Store
from .postgres import PostgresStore
from .records import RunInfo, RunRecord, StoreError
from .sqlite import DB_FILENAME, SQLiteStore

__all__ = ["DB_FILENAME", "SCHEMA_VERSION", "PostgresStore", "RunInfo", "RunRecord", "SQLiteStore", "Store",
           "StoreError"]  # fmt: skip
