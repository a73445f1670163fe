"""The local transformers backend: a causal LM from a directory or the HF cache.

On CUDA the weights load in 4-bit NF4 (bitsandbytes, bf16 compute); on CPU in bf16.
The chat template formats the prompt, ``TextIteratorStreamer`` streams tokens from
``generate`` running in a thread, and a stopping criterion honours ``cancel``.
Unless ``allow_download`` is set, ``HF_HUB_OFFLINE`` is on and every lookup is
local-only, so a missing model fails in milliseconds with a ``ModelNotFoundError``
that says where to put the weights. torch and transformers load only in ``_load``.
"""

from __future__ import annotations

import inspect
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from copilot.backends.base import (BackendUnavailableError, LLMBackend, ModelNotFoundError,
                                   ToolCaller, process_memory)
from copilot.prompt import Prompt


def _offline_env(allow_download: bool) -> None:
    if not allow_download:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"


def _looks_like_path(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~")) or Path(model).expanduser().exists()


def resolve_model(model: str, allow_download: bool) -> str:
    """A local directory holding the model, or the hub id when downloads are allowed.

    Raises ModelNotFoundError (fast, no network) when the weights are not here.
    """
    if not model:
        raise ModelNotFoundError("no copilot model is configured",
                                 hint='set [copilot] model to a local directory or a Hugging Face id')
    if _looks_like_path(model):
        path = Path(model).expanduser()
        if (path / "config.json").is_file():
            return str(path)
        raise ModelNotFoundError(
            f"no model found at {path} (it needs config.json, tokenizer files and weights)",
            hint="put a Hugging Face model directory there (save_pretrained or "
                 "`hf download <id> --local-dir <dir>`), or set [copilot] model")
    _offline_env(allow_download)
    from huggingface_hub import snapshot_download
    from huggingface_hub.constants import HF_HUB_CACHE

    try:
        return snapshot_download(model, local_files_only=True)
    except Exception:  # LocalEntryNotFoundError and friends: not cached
        if allow_download:
            return model
    raise ModelNotFoundError(
        f"model {model!r} is not in the Hugging Face cache ({HF_HUB_CACHE}) and downloads are off",
        hint=f"run `hf download {model}` on a machine with internet (or copy the cache "
             f"there), set [copilot] model to a local directory, or set [copilot] "
             "allow_download = true")


def model_available(model: str, allow_download: bool = False) -> bool:
    """True when ``resolve_model`` would succeed without downloading."""
    try:
        resolve_model(model, allow_download=False)
    except ModelNotFoundError:
        return False
    return True


class TransformersBackend(LLMBackend):
    """Local generation; one model per backend object, loaded on first use."""

    name = "transformers"

    def __init__(self, settings: Any, device: str | None = None) -> None:
        super().__init__(settings)
        self._device_pref = device or settings.device
        self.model: Any = None
        self.tokenizer: Any = None
        self.device = "cpu"
        self.dtype = ""
        self.model_path = ""
        self._context = settings.context_tokens
        self._gen_lock = threading.Lock()
        self._stats: dict[str, float] = {}

    # ---- loading -------------------------------------------------------------------
    def _load(self) -> None:
        path = resolve_model(self.settings.model, self.settings.allow_download)
        _offline_env(self.settings.allow_download)
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        from engine.device import select_device

        hf_logging.disable_progress_bar()  # progress bars would garble the TUI

        local_only = not self.settings.allow_download
        info = select_device(self._device_pref)
        self.device = info.name
        quant = self.settings.quantization
        kwargs: dict[str, Any] = {"local_files_only": local_only}
        if info.is_cuda and quant in ("auto", "nf4"):
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4",
                bnb_4bit_compute_dtype=torch.bfloat16, bnb_4bit_use_double_quant=True)
            kwargs["device_map"] = {"": info.name}
            self.dtype = "nf4 (bf16 compute)"
        else:
            dtype = torch.float32 if quant == "fp32" else torch.bfloat16
            kwargs["dtype"] = dtype
            self.dtype = str(dtype).replace("torch.", "")
            if info.is_cuda:
                kwargs["device_map"] = {"": info.name}
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local_only)
            self.model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
        except (OSError, ValueError) as exc:
            raise ModelNotFoundError(f"cannot load the copilot model from {path}: {exc}".split("\n")[0],
                                     hint="check [copilot] model points at a complete model "
                                          "directory (config, tokenizer, safetensors)") from None
        if not info.is_cuda:
            self.model.to(info.name)
        self.model.eval()
        if not getattr(self.tokenizer, "chat_template", None):
            raise ModelNotFoundError(f"the model at {path} has no chat template",
                                     hint="use an instruct/chat model, whose tokenizer_config.json "
                                          "has a chat_template")
        window = getattr(self.model.config, "max_position_embeddings", None)
        if isinstance(window, int) and window > 0:
            self._context = min(self.settings.context_tokens, window)
        self.model_path = path

    @property
    def context_tokens(self) -> int:
        return self._context

    def count_tokens(self, text: str) -> int:
        if self.tokenizer is None:
            return super().count_tokens(text)
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    # ---- generation ----------------------------------------------------------------
    def _inputs(self, messages: list[dict[str, Any]]) -> Any:
        kwargs: dict[str, Any] = {"add_generation_prompt": True, "return_tensors": "pt",
                                  "return_dict": True}
        params = inspect.signature(self.tokenizer.apply_chat_template).parameters
        if "sanitize_control_tokens" in params:
            kwargs["sanitize_control_tokens"] = True
        try:
            enc = self.tokenizer.apply_chat_template(messages, **kwargs)
        except Exception:  # templates without a system role: fold it into the first turn
            if messages and messages[0]["role"] == "system":
                rest = [dict(m) for m in messages[1:]]
                rest[0]["content"] = messages[0]["content"] + "\n\n" + rest[0]["content"]
                enc = self.tokenizer.apply_chat_template(rest, **kwargs)
            else:
                raise
        limit = self._context - (self.settings.max_new_tokens)
        ids = enc["input_ids"]
        if ids.shape[-1] > limit:  # budgeting estimated too low: keep the question end
            enc = {k: v[:, -limit:] for k, v in enc.items()}
        return {k: v.to(self.model.device) for k, v in enc.items()}

    def generate(self, prompt: Prompt, cancel: threading.Event | None = None,
                 call_tool: ToolCaller | None = None) -> Iterator[str]:
        self.load()
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        halt = threading.Event()  # set when the consumer stops reading

        def stopped() -> bool:
            return halt.is_set() or (cancel is not None and cancel.is_set())

        class _Cancel(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
                return stopped()

        with self._gen_lock:  # one generation at a time per model
            inputs = self._inputs(prompt.messages)
            n_prompt = int(inputs["input_ids"].shape[-1])
            marks: list[float] = []  # perf_counter at each put(): prompt, then one per token

            class _TimedStreamer(TextIteratorStreamer):
                def put(self, value: Any) -> None:
                    marks.append(time.perf_counter())
                    super().put(value)

            streamer = _TimedStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True,
                                      timeout=self.settings.timeout_s)
            max_new = prompt.max_new_tokens or self.settings.max_new_tokens
            gen: dict[str, Any] = dict(inputs, streamer=streamer, max_new_tokens=max_new,
                                       stopping_criteria=StoppingCriteriaList([_Cancel()]),
                                       pad_token_id=self.tokenizer.pad_token_id
                                       if self.tokenizer.pad_token_id is not None
                                       else self.tokenizer.eos_token_id)
            if prompt.min_new_tokens:
                gen["min_new_tokens"] = prompt.min_new_tokens
            if self.settings.temperature > 0:
                gen.update(do_sample=True, temperature=self.settings.temperature)
            else:
                gen.update(do_sample=False)
            failure: list[BaseException] = []
            out_len: list[int] = []

            def work() -> None:
                import torch

                try:
                    with torch.inference_mode():
                        out = self.model.generate(**gen)
                    out_len.append(int(out.shape[-1]) - n_prompt)
                except BaseException as exc:  # surfaced in the caller's thread below
                    failure.append(exc)
                    streamer.end()

            t0 = time.perf_counter()
            first: float | None = None
            thread = threading.Thread(target=work, name="pmax-copilot-generate", daemon=True)
            thread.start()
            try:
                for text in streamer:
                    if stopped():
                        break
                    if text:
                        if first is None:
                            first = time.perf_counter() - t0
                        yield text
            finally:
                cancelled = stopped()
                halt.set()  # consumer gone or finished: let generate() return
                thread.join()
            total = time.perf_counter() - t0
            if failure and not cancelled:
                raise BackendUnavailableError(f"local generation failed: {failure[0]}",
                                              hint="see `pmax copilot status`; try backend = "
                                                   "\"offline\"") from failure[0]
            n_new = out_len[0] if out_len else max(len(marks) - 1, 0)
            # First token = the first put() after the prompt's; text may flush later
            # (the streamer waits for a word boundary), so time tokens, not text.
            ttft = marks[1] - t0 if len(marks) > 1 else (first or total)
            decode_s = marks[-1] - marks[1] if len(marks) > 2 else 0.0
            self._stats = {"prompt_tokens": float(n_prompt), "tokens": float(n_new),
                           "first_token_s": ttft, "first_text_s": first or total,
                           "generate_s": total,
                           "tokens_per_s": n_new / total if total > 0 else 0.0,
                           "decode_tokens_per_s": (len(marks) - 2) / decode_s if decode_s > 0 else 0.0}

    def status(self) -> dict[str, Any]:
        memory = process_memory()
        out: dict[str, Any] = {"backend": self.name, "model": self.settings.model,
                               "loaded": self._loaded, "device": None, "memory": memory}
        if self.model is not None:
            out.update(device=self.device, dtype=self.dtype, model_path=self.model_path,
                       context_tokens=self._context)
            memory["model_mib"] = round(self.model.get_memory_footprint() / 2**20, 1)
        else:
            out["available"] = model_available(self.settings.model)
            try:
                from engine.device import select_device

                out["device"] = select_device(self._device_pref).name
            except Exception as exc:  # status never fails on a device problem
                out["device"] = f"unavailable ({exc})"
        if str(out.get("device", "")).startswith("cuda"):
            import torch

            free, total = torch.cuda.mem_get_info()
            memory.update(gpu_free_mib=round(free / 2**20), gpu_total_mib=round(total / 2**20))
        return out
