"""In-memory implementations of the records and storage ports, for fast service
tests. Proven by the same contract suites as the real sides (`[memory]`);
never chosen by the factory, so nothing in production can end up on them."""

from adapters.memory.records import MemoryDatabase, MemoryRecords
from adapters.memory.storage import MemoryStorage

__all__ = ["MemoryDatabase", "MemoryRecords", "MemoryStorage"]
