"""The copilot's faster GGUF reader (copilot/backends/gguf_reader.py) reads exactly what
gguf's own reader reads: every metadata field (strings, string arrays, numbers) and
every tensor, quantized ones included, on a small GGUF file written here with gguf's
own writer. The real SmolLM2 file goes through it in test_copilot_smollm2.py."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import pytest

from copilot.backends.gguf_reader import fast_reader_class


@pytest.fixture(scope="module")
def small_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gguf") / "small.gguf"
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("small")
    writer.add_context_length(64)
    writer.add_float32("small.scale", 0.125)
    writer.add_array("tokenizer.ggml.tokens", ["<s>", "</s>", "héllo", "wörld", "1.25", ""])
    writer.add_array("tokenizer.ggml.scores", [0.0, -1.5, 2.25, 3.0, -4.0, 0.5])
    writer.add_array("tokenizer.ggml.token_type", [1, 3, 1, 1, 1, 1])
    rng = np.random.default_rng(7)
    writer.add_tensor("token_embd.weight", rng.standard_normal((6, 32)).astype(np.float32))
    block = rng.standard_normal((4, 64)).astype(np.float32)
    q4 = gguf.quants.quantize(block, gguf.GGMLQuantizationType.Q4_1)
    writer.add_tensor("blk.0.attn_q.weight", q4, raw_dtype=gguf.GGMLQuantizationType.Q4_1)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_the_fast_reader_reads_every_field_and_tensor_as_gguf_does(small_gguf: Path) -> None:
    fast_class = fast_reader_class(gguf.GGUFReader)
    assert fast_class is not gguf.GGUFReader and issubclass(fast_class, gguf.GGUFReader)
    slow, fast = gguf.GGUFReader(small_gguf), fast_class(small_gguf)
    assert list(fast.fields) == list(slow.fields) and "tokenizer.ggml.tokens" in fast.fields
    for name, want in slow.fields.items():
        got = fast.fields[name]
        assert (got.offset, got.types, got.data) == (want.offset, want.types, want.data), name
        assert len(got.parts) == len(want.parts), name
        for a, b in zip(got.parts, want.parts, strict=True):
            assert a.dtype == b.dtype and np.array_equal(a, b), name
            assert type(a) is np.ndarray  # a plain array: no memmap slice
    tokens = fast.fields["tokenizer.ggml.tokens"]
    assert [bytes(tokens.parts[i]).decode() for i in tokens.data] == ["<s>", "</s>", "héllo", "wörld", "1.25", ""]
    assert [t.name for t in fast.tensors] == [t.name for t in slow.tensors]
    for tensor, expected in zip(fast.tensors, slow.tensors, strict=True):
        layout = (tensor.tensor_type, list(tensor.shape), tensor.data_offset)
        assert layout == (expected.tensor_type, list(expected.shape), expected.data_offset)
        assert tensor.data.dtype == expected.data.dtype and np.array_equal(tensor.data, expected.data)
        assert np.array_equal(
            gguf.quants.dequantize(tensor.data, tensor.tensor_type),
            gguf.quants.dequantize(expected.data, expected.tensor_type),
        )
    q = next(t for t in fast.tensors if t.name == "blk.0.attn_q.weight")
    assert q.tensor_type == gguf.GGMLQuantizationType.Q4_1  # a quantized tensor was compared


def test_a_reader_without_the_expected_slice_helper_is_used_unchanged() -> None:
    class Other:
        def _get(self, offset: int, dtype: object) -> None: ...

    class Bare:
        pass

    assert fast_reader_class(Other) is Other
    assert fast_reader_class(Bare) is Bare
