"""The run store: the response cache and stored runs (SQLite), where the store lives, and redaction."""

from .sqlite import DB_FILENAME, RunInfo, RunRecord, Store, StoreError

__all__ = ["DB_FILENAME", "RunInfo", "RunRecord", "Store", "StoreError"]
