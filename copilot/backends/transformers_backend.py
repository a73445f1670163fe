"""The local transformers backend: a causal LM from a directory, the HF cache or a
``.gguf`` file (``hf_loading``).

On CUDA safetensors weights load in 4-bit NF4 (bitsandbytes, bf16 compute); on CPU
in bf16. The chat template formats the prompt, ``TextIteratorStreamer`` streams
tokens from ``generate`` running in a thread, and stopping criteria honour
``cancel`` and cut a generation that repeats itself (``looped`` in ``stats``).
Decoding applies ``[copilot] repetition_penalty``. When the chat template renders
``tools``, the copilot's tools are offered: a first, buffered generation may answer
with ``<tool_call>`` blocks, which are run and fed back before the streamed
answer. torch and transformers load only in ``_load``.

The key/value cache of the last generation is kept, and the next prompt reuses it for
the tokens it shares with that one (``PromptCache``): the system rules and the start
of the data block are not computed again for a follow-up question (``reused_tokens``
in ``stats``). The tokens generated are the same with or without it.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Iterator
from typing import Any

from copilot.backends.base import BackendUnavailableError, LLMBackend, ToolCaller, process_memory
from copilot.backends.hf_loading import load_pretrained, model_available, offline_env, resolve_model
from copilot.backends.toolcalls import parse_tool_calls, repeats, run_call, schema_tokens, template_supports_tools
from copilot.prompt import Prompt

MAX_TOOL_ROUNDS = 2
MIN_REUSED_TOKENS = 16  # a shorter shared prefix is computed again (not worth the bookkeeping)


def cache_kwarg() -> str:
    """`generate`'s name for a key/value cache: `cache` from transformers 5.x's rename on,
    `past_key_values` before it."""
    from transformers.generation import utils

    return "cache" if "cache" in getattr(utils, "ALL_CACHE_NAMES", ()) else "past_key_values"


class PromptCache:
    """The key/value cache of one generation and the token ids it holds."""

    def __init__(self) -> None:
        self._ids: list[int] = []
        self._cache: Any = None

    def take(self, ids: list[int]) -> tuple[Any, int]:
        """A cache for a prompt of `ids`: the kept one cut to the prefix it shares with
        `ids` (at least one token is left to compute), or a new one; and how many
        tokens it already holds. The kept cache is handed over (a failed generation
        leaves none behind)."""
        from transformers import DynamicCache

        cache, held, self._cache, self._ids = self._cache, self._ids, None, []
        shared = 0
        for a, b in zip(held, ids[:-1], strict=False):
            if a != b:
                break
            shared += 1
        if cache is None or shared < MIN_REUSED_TOKENS or not getattr(cache, "is_croppable", False):
            return DynamicCache(), 0
        cache.crop(shared - cache.get_seq_length())  # a negative count: the tokens to drop
        return cache, shared

    def keep(self, cache: Any, sequence: list[int]) -> None:
        """Keep `cache` after a generation of `sequence` (prompt + new tokens)."""
        self._cache, self._ids = cache, sequence[: cache.get_seq_length()]


class TransformersBackend(LLMBackend):
    """Local generation; one model per backend object, loaded on first use."""

    name = "transformers"

    def __init__(self, settings: Any, device: str | None = None, tools: list[dict[str, Any]] | None = None) -> None:
        super().__init__(settings)
        self.tools = tools or []
        self.supports_tools = False  # set on load from the chat template
        self.load_format = ""
        self._tools_note = ""
        self._device_pref = device or settings.device
        self.model: Any = None
        self.tokenizer: Any = None
        self.device = "cpu"
        self.dtype = ""
        self.model_path = ""
        self._context = settings.context_tokens
        self._gen_lock = threading.Lock()
        self._stats: dict[str, float] = {}
        self._prompt_cache = PromptCache()

    # ---- loading -------------------------------------------------------------------
    def _load(self) -> None:
        path = resolve_model(self.settings.model, self.settings.allow_download)
        offline_env(self.settings.allow_download)
        import torch
        from transformers.utils import logging as hf_logging

        from engine.device import select_device

        hf_logging.disable_progress_bar()  # progress bars would garble the TUI

        local_only = not self.settings.allow_download
        info = select_device(self._device_pref)
        self.device = info.name
        quant = self.settings.quantization
        kwargs: dict[str, Any] = {}
        gguf = path.endswith(".gguf")
        if info.is_cuda and quant in ("auto", "nf4") and not gguf:
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True,
                bnb_4bit_quant_type="nf4",
                bnb_4bit_compute_dtype=torch.bfloat16,
                bnb_4bit_use_double_quant=True,
            )
            kwargs["device_map"] = {"": info.name}
            self.dtype = "nf4 (bf16 compute)"
        else:
            fp32 = quant == "fp32" or (gguf and quant != "bf16")  # GGUF kernels compute in fp32
            dtype = torch.float32 if fp32 else torch.bfloat16
            kwargs["dtype"] = dtype
            self.dtype = str(dtype).replace("torch.", "")
            if info.is_cuda:
                kwargs["device_map"] = {"": info.name}
        self.tokenizer, self.model, self.load_format = load_pretrained(path, kwargs, local_only)
        if not info.is_cuda:
            self.model.to(info.name)
        self.model.eval()
        template = getattr(self.tokenizer, "chat_template", None)
        self.supports_tools = (
            bool(self.tools) and self.settings.tool_calling != "off" and template_supports_tools(template)
        )
        if not template:
            from copilot.backends.base import ModelNotFoundError

            raise ModelNotFoundError(
                f"the model at {path} has no chat template",
                hint="use an instruct/chat model, whose tokenizer_config.json has a chat_template",
            )
        window = getattr(self.model.config, "max_position_embeddings", None)
        if isinstance(window, int) and window > 0:
            self._context = min(self.settings.context_tokens, window)
        self._tools_note = "chat template" if self.supports_tools else "off (the chat template does not render tools)"
        if self.supports_tools and self.tool_schema_tokens() > self._context // 2:
            self._tools_note = (
                f"off (the tool schemas need {self.tool_schema_tokens()} tokens, "
                f"more than half the {self._context}-token context)"
            )
            self.supports_tools = False
        self.model_path = path

    @property
    def context_tokens(self) -> int:
        return self._context

    def count_tokens(self, text: str) -> int:
        if self.tokenizer is None:
            return super().count_tokens(text)
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def tool_schema_tokens(self) -> int:
        return schema_tokens(self.tools, self.count_tokens) if self.supports_tools else 0

    # ---- generation ----------------------------------------------------------------
    def _inputs(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> Any:
        kwargs: dict[str, Any] = {"add_generation_prompt": True, "return_tensors": "pt", "return_dict": True}
        if tools:
            kwargs["tools"] = tools
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

    def generate(
        self, prompt: Prompt, cancel: threading.Event | None = None, call_tool: ToolCaller | None = None
    ) -> Iterator[str]:
        """Stream the answer; with tools, a buffered first pass may call them first."""
        self.load()
        messages = [dict(m) for m in prompt.messages]
        max_new = prompt.max_new_tokens or self.settings.max_new_tokens
        rounds = 0
        with self._gen_lock:  # one generation at a time per model
            if call_tool is not None and self.supports_tools:
                for _ in range(MAX_TOOL_ROUNDS):
                    text = "".join(self._stream(messages, cancel, max_new, prompt, self.tools))
                    calls = parse_tool_calls(text)
                    if not calls:  # it answered: that text is the answer
                        self._stats["tool_rounds"] = float(rounds)
                        yield text
                        return
                    rounds += 1
                    messages.append(
                        {
                            "role": "assistant",
                            "content": "",
                            "tool_calls": [
                                {"type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                                for c in calls
                            ],
                        }
                    )
                    for c in calls:
                        messages.append(
                            {
                                "role": "tool",
                                "name": c["name"],
                                "content": run_call(call_tool, c["name"], c["arguments"]),
                            }
                        )
            yield from self._stream(messages, cancel, max_new, prompt, None)
            self._stats["tool_rounds"] = float(rounds)

    def _stream(
        self,
        messages: list[dict[str, Any]],
        cancel: threading.Event | None,
        max_new: int,
        prompt: Prompt,
        tools: list[dict[str, Any]] | None,
    ) -> Iterator[str]:
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        halt = threading.Event()  # set when the consumer stops reading
        looped: list[bool] = []

        def stopped() -> bool:
            return halt.is_set() or (cancel is not None and cancel.is_set())

        inputs = self._inputs(messages, tools)
        n_prompt = int(inputs["input_ids"].shape[-1])
        cache, reused = self._prompt_cache.take(inputs["input_ids"][0].tolist())

        class _Cancel(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
                return stopped()

        class _Loop(StoppingCriteria):  # cut a generation that repeats a block of tokens
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
                new = input_ids.shape[-1] - n_prompt
                if new >= 8 and new % 4 == 0 and repeats(input_ids[0, n_prompt:].tolist()):
                    looped.append(True)
                return bool(looped)

        marks: list[float] = []  # perf_counter at each put(): prompt, then one per token

        class _TimedStreamer(TextIteratorStreamer):
            def put(self, value: Any) -> None:
                marks.append(time.perf_counter())
                super().put(value)

        streamer = _TimedStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=self.settings.timeout_s
        )
        gen: dict[str, Any] = dict(
            inputs,
            streamer=streamer,
            max_new_tokens=max_new,
            stopping_criteria=StoppingCriteriaList([_Cancel(), _Loop()]),
            pad_token_id=self.tokenizer.pad_token_id
            if self.tokenizer.pad_token_id is not None
            else self.tokenizer.eos_token_id,
        )
        gen[cache_kwarg()] = cache
        if prompt.min_new_tokens:
            gen["min_new_tokens"] = prompt.min_new_tokens
        if self.settings.repetition_penalty != 1.0:
            gen["repetition_penalty"] = self.settings.repetition_penalty
        if self.settings.temperature > 0:
            gen.update(do_sample=True, temperature=self.settings.temperature)
        else:
            gen.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        failure: list[BaseException] = []
        out_len: list[int] = []

        def work() -> None:
            import torch

            try:
                with torch.inference_mode():
                    out = self.model.generate(**gen)
                out_len.append(int(out.shape[-1]) - n_prompt)
                self._prompt_cache.keep(cache, out[0].tolist())
            except BaseException as exc:  # noqa: BLE001 - surfaced in the caller's thread below
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
            raise BackendUnavailableError(
                f"local generation failed: {failure[0]}", hint='see `pmax copilot status`; try backend = "offline"'
            ) from failure[0]
        n_new = out_len[0] if out_len else max(len(marks) - 1, 0)
        # First token = the first put() after the prompt's; text may flush later
        # (the streamer waits for a word boundary), so time tokens, not text.
        ttft = marks[1] - t0 if len(marks) > 1 else (first or total)
        decode_s = marks[-1] - marks[1] if len(marks) > 2 else 0.0
        decode = (len(marks) - 2) / decode_s if decode_s > 0 else 0.0
        self._stats = {
            "prompt_tokens": float(n_prompt),
            "reused_tokens": float(reused),
            "tokens": float(n_new),
            "first_token_s": ttft,
            "first_text_s": first or total,
            "generate_s": total,
            "tokens_per_s": decode,
            "decode_tokens_per_s": decode,
            "looped": 1.0 if looped else 0.0,
        }

    def status(self) -> dict[str, Any]:
        memory = process_memory()
        out: dict[str, Any] = {
            "backend": self.name,
            "model": self.settings.model,
            "loaded": self._loaded,
            "device": None,
            "memory": memory,
        }
        if self.model is not None:
            out.update(
                device=self.device,
                dtype=self.dtype,
                model_path=self.model_path,
                context_tokens=self._context,
                load_format=self.load_format,
                tool_calling=self._tools_note,
            )
            memory["model_mib"] = round(self.model.get_memory_footprint() / 2**20, 1)
        else:
            out["available"] = model_available(self.settings.model)
            try:
                from engine.device import select_device

                out["device"] = select_device(self._device_pref).name
            except Exception as exc:  # noqa: BLE001 - status never fails on a device problem
                out["device"] = f"unavailable ({exc})"
        if str(out.get("device", "")).startswith("cuda"):
            import torch

            free, total = torch.cuda.mem_get_info()
            memory.update(gpu_free_mib=round(free / 2**20), gpu_total_mib=round(total / 2**20))
        return out
