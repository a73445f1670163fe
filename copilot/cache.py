"""The answer cache: finished answers keyed by (backend, account, question, store as-of).

The key includes the store's freshness fingerprint (``copilot.tools.store_as_of``),
so an answer is reused only while the rows it came from are unchanged. LRU, bounded,
thread-safe.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

from copilot.types import Answer

CacheKey = tuple[str, str, str, str]


def normalise(question: str) -> str:
    """Case, spacing and trailing punctuation do not change the question."""
    return re.sub(r"\s+", " ", question.strip().lower()).rstrip(" ?!.")


class AnswerCache:
    """A small LRU of answers; ``size`` 0 disables it."""

    def __init__(self, size: int = 128) -> None:
        self.size = size
        self._data: OrderedDict[CacheKey, Answer] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(backend: str, account: str, question: str, as_of: str) -> CacheKey:
        return (backend, account, normalise(question), as_of)

    def get(self, key: CacheKey) -> Answer | None:
        with self._lock:
            answer = self._data.get(key)
            if answer is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return answer

    def put(self, key: CacheKey, answer: Answer) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._data[key] = answer
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)
