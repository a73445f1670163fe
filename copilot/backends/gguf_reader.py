"""A faster reader for GGUF files: gguf's own `GGUFReader` with plain array slices.

`GGUFReader` reads every metadata value, one small slice at a time, from a
`numpy.memmap`. Each slice of a memmap is a memmap too, and numpy's memmap subclass
costs ~1 µs per slice (`__array_finalize__`, `__getitem__`): SmolLM2's ~100k
tokenizer values take 2.1 s of CPU to parse, 0.7 s through a plain `ndarray` view
of the same memory map. The bytes are the same memory, so every field and tensor is
identical (tests/test_gguf_reader.py compares them); nothing is copied.

The only method replaced is `_get`, gguf's private slice helper. Where a gguf
version lacks it or its parameters differ, `fast_reader_class` returns gguf's own
class unchanged.
"""

from __future__ import annotations

import inspect
from typing import Any

_GET_PARAMETERS = ["self", "offset", "dtype", "count", "override_order"]


def fast_reader_class(reader_class: Any) -> Any:
    """A subclass of `reader_class` (gguf's `GGUFReader`) whose slices are plain arrays,
    or `reader_class` itself when its `_get` is not the one this was written for."""
    import numpy as np

    get = getattr(reader_class, "_get", None)
    if get is None or list(inspect.signature(get).parameters) != _GET_PARAMETERS:
        return reader_class

    class PlainSliceGGUFReader(reader_class):
        """`GGUFReader` slicing a plain ndarray view of its memory map."""

        def _get(self, offset: int, dtype: Any, count: int = 1, override_order: Any = None) -> Any:
            plain = self.__dict__.get("_plain_data")
            if plain is None:
                plain = self._plain_data = self.data.view(np.ndarray)
            count = int(count)
            kind = np.dtype(dtype)
            arr = plain[offset : offset + kind.itemsize * count].view(dtype=kind)[:count]
            return arr.view(arr.dtype.newbyteorder(self.byte_order if override_order is None else override_order))

    return PlainSliceGGUFReader
