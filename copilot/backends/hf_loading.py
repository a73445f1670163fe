"""Finding and loading a transformers model: a Hugging Face directory, a hub id in
the local cache, or a single ``.gguf`` file.

GGUF files load through transformers' own GGUF reader (``gguf_file=``; the ``gguf``
package). Its quirks, handled here: the reader draws a tqdm bar on stderr and logs
advice (silenced, they would garble the TUI); its kernels compute in float32, so a
GGUF model loads in fp32 unless ``quantization = "bf16"`` (bf16 only adds casts);
it cannot be 4-bit quantized again with bitsandbytes, so NF4 is skipped; a GGUF-loaded
model "quantized with gguf" cannot be saved with ``save_pretrained`` (we never save it);
the file carries no generation_config.json, so eos/pad come from the tokenizer. Unless
``allow_download`` is set every lookup is local-only, so a missing model fails in
milliseconds.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from copilot.backends.base import ModelNotFoundError
from copilot.backends.gguf_reader import fast_reader_class


def offline_env(allow_download: bool) -> None:
    if not allow_download:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"


def _looks_like_path(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~")) or model.endswith(".gguf") or Path(model).expanduser().exists()


def resolve_model(model: str, allow_download: bool) -> str:
    """A local directory (or .gguf file) holding the model, or the hub id when
    downloads are allowed. Raises ModelNotFoundError (fast, no network) otherwise."""
    if not model:
        raise ModelNotFoundError(
            "no copilot model is configured",
            hint="set [copilot] model to a local directory, a .gguf file or a Hugging Face id",
        )
    if _looks_like_path(model):
        path = Path(model).expanduser()
        if path.suffix == ".gguf":
            if path.is_file():
                return str(path)
            raise ModelNotFoundError(f"no GGUF file at {path}", hint="point [copilot] model at an existing .gguf file")
        if (path / "config.json").is_file():
            return str(path)
        raise ModelNotFoundError(
            f"no model found at {path} (a directory needs config.json, tokenizer files and "
            "weights; a single file must end in .gguf)",
            hint="put a Hugging Face model directory there (save_pretrained or "
            "`hf download <id> --local-dir <dir>`), a .gguf file, or set [copilot] model",
        )
    offline_env(allow_download)
    from huggingface_hub import snapshot_download
    from huggingface_hub.constants import HF_HUB_CACHE

    try:
        return snapshot_download(model, local_files_only=True)
    except Exception:  # noqa: BLE001 - LocalEntryNotFoundError and friends: not cached
        if allow_download:
            return model
    raise ModelNotFoundError(
        f"model {model!r} is not in the Hugging Face cache ({HF_HUB_CACHE}) and downloads are off",
        hint=f"run `hf download {model}` on a machine with internet (or copy the cache "
        f"there), set [copilot] model to a local directory or .gguf file, or set "
        "[copilot] allow_download = true",
    )


def model_available(model: str, allow_download: bool = False) -> bool:
    """True when ``resolve_model`` would succeed without downloading."""
    try:
        resolve_model(model, allow_download=False)
    except ModelNotFoundError:
        return False
    return True


@contextmanager
def _quiet_progress() -> Iterator[None]:
    """No tqdm bars or advice on stderr while loading (the GGUF reader draws a bar)."""
    import contextlib
    import io
    import logging

    log = logging.getLogger("transformers")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        log.setLevel(level)


@contextmanager
def _gguf_parsed_once() -> Iterator[None]:
    """Within one load, parse the GGUF file once and build gguf's tensor-name map once.

    transformers parses the whole file (its ~100k tokenizer fields are read one small
    numpy slice at a time) three times, for the config, the tokenizer and the weights,
    and rebuilds the name map for every submodule of the model: two thirds of the load
    time of SmolLM2 here. The readers are read-only memory maps, so one serves all three,
    and they slice plain arrays (`gguf_reader.fast_reader_class`: 3x faster to parse).
    Both hooks are put back on exit; if a version lacks either, nothing is changed.
    """
    try:
        import gguf  # transformers imports both names from `gguf` at each call
    except ImportError:
        yield
        return
    reader_class = getattr(gguf, "GGUFReader", None)
    name_map = getattr(gguf, "get_tensor_name_map", None)
    if reader_class is None or name_map is None:
        yield
        return
    readers: dict[tuple[str, str], Any] = {}
    fast_class = fast_reader_class(reader_class)

    def read_once(path: Any, mode: str = "r") -> Any:
        key = (os.fspath(path), mode)
        if key not in readers:
            readers[key] = fast_class(path, mode)
        return readers[key]

    setattr(gguf, "GGUFReader", read_once)  # noqa: B010 - a module hook, put back below
    setattr(gguf, "get_tensor_name_map", functools.lru_cache(maxsize=None)(name_map))  # noqa: B010
    try:
        yield
    finally:
        setattr(gguf, "GGUFReader", reader_class)  # noqa: B010
        setattr(gguf, "get_tensor_name_map", name_map)  # noqa: B010


def load_pretrained(path: str, kwargs: dict[str, Any], local_only: bool) -> tuple[Any, Any, str]:
    """(tokenizer, model, how) for a directory or a .gguf file; ``kwargs`` go to the model."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    where: dict[str, Any] = {"local_files_only": local_only}
    source = path
    how = "safetensors"
    if path.endswith(".gguf"):
        source, where["gguf_file"] = str(Path(path).parent), Path(path).name
        kwargs = {k: v for k, v in kwargs.items() if k != "quantization_config"}
        how = "gguf"
    try:
        with _quiet_progress(), _gguf_parsed_once():
            tokenizer = AutoTokenizer.from_pretrained(source, **where)
            model = AutoModelForCausalLM.from_pretrained(source, **where, **kwargs)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelNotFoundError(
            f"cannot load the copilot model from {path}: {exc}".split("\n")[0],
            hint="check [copilot] model points at a complete model directory (config, "
            "tokenizer, safetensors) or a Llama/Qwen-family .gguf file; GGUF needs the "
            "`gguf` package",
        ) from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    gen = getattr(model, "generation_config", None)
    if gen is not None and gen.eos_token_id is None:
        gen.eos_token_id = tokenizer.eos_token_id
    return tokenizer, model, how
