"""Pieces both model backends share for function calling and decoding hygiene:
parsing tool calls a model wrote as text, running them safely, the tokens tool
schemas cost, and spotting a generation that loops.

Text tool calls follow the Hermes/Qwen chat templates: ``<tool_call>{"name": …,
"arguments": {…}}</tool_call>``; a bare JSON object with ``name`` and
``arguments`` is accepted too. Only a chat template that renders ``tools`` gets
them offered (``template_supports_tools``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

_TAGGED = re.compile(r"<tool_call>\s*(\{.*?\})\s*</tool_call>", re.DOTALL)
_BARE = re.compile(r"^\s*(\{.*\})\s*$", re.DOTALL)


def template_supports_tools(template: Any) -> bool:
    """True when a Jinja chat template renders the ``tools`` it is given."""
    return isinstance(template, str) and bool(re.search(r"\btools\b", template))


def parse_tool_calls(text: str) -> list[dict[str, Any]]:
    """[{name, arguments(dict)}] from a model's text; empty when it wrote an answer."""
    found = _TAGGED.findall(text)
    if not found:
        m = _BARE.match(text)
        found = [m.group(1)] if m else []
    calls = []
    for raw in found:
        try:
            obj = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
            continue
        args = obj.get("arguments", obj.get("parameters", {}))
        if isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except ValueError:
                args = {}
        calls.append({"name": obj["name"], "arguments": args if isinstance(args, dict) else {}})
    return calls


def run_call(call_tool: Callable[[str, dict[str, Any]], str], name: str, args: Any) -> str:
    """Run one requested tool; bad arguments or unknown tools become an error text."""
    from engine.errors import PmaxError

    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError as exc:
            return json.dumps({"error": f"bad arguments for {name}: {exc}"})
    if not isinstance(args, dict):
        return json.dumps({"error": f"bad arguments for {name}: arguments must be a JSON object"})
    try:
        return call_tool(name, args)
    except PmaxError as exc:
        return json.dumps({"error": exc.message, "hint": exc.hint})


def schema_tokens(tools: list[dict[str, Any]], count_tokens: Callable[[str], int]) -> int:
    """Tokens the tool schemas add to a prompt (plus the template's wrapping)."""
    if not tools:
        return 0
    return count_tokens(json.dumps(tools, separators=(",", ":"))) + 16 * len(tools) + 64


def repeats(ids: list[int], min_period: int = 2, max_period: int = 64, times: int = 4) -> bool:
    """True when the tail of ``ids`` is one block of 2–64 tokens repeated ``times`` times."""
    n = len(ids)
    for p in range(min_period, max_period + 1):
        if p * times > n:
            break
        block = ids[n - p :]
        if all(ids[n - (k + 1) * p : n - k * p] == block for k in range(1, times)):
            return True
    return False
