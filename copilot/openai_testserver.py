"""A local OpenAI-compatible chat server for the copilot's tests and benchmark (not used
at run time).

``FakeOpenAIServer`` is a threaded http.server on 127.0.0.1 speaking the
chat-completions protocol, streamed (SSE) or not (``stream: false`` gets the same reply
assembled into one object, tool calls included). ``ModelReply`` answers with a real
loaded ``TransformersBackend``; ``content_chunks`` and ``tool_call_chunks`` script replies.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = Callable[[dict[str, Any]], Any]  # list or iterator of chunks, or (status, body)


class ModelReply:
    """A ``FakeOpenAIServer`` reply that generates with a real loaded
    ``TransformersBackend``: chunks stream as tokens are produced, the last one
    carries ``usage`` (real token counts). Requests offering tools get a plain
    answer when the model's chat template cannot render tools, as llama.cpp's
    server does."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def __call__(self, req: dict[str, Any]) -> Any:
        from copilot.prompt import Prompt

        messages = [
            {"role": m["role"], "content": m.get("content") or ""}
            for m in req["messages"]
            if m["role"] in ("system", "user", "assistant")
        ]
        max_new = int(req.get("max_tokens") or 64)

        def chunks() -> Any:
            b = self.backend
            with b._gen_lock:
                for text in b._stream(messages, None, max_new, Prompt("", []), None):
                    yield {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
            stats = b.stats
            yield {
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                "usage": {
                    "prompt_tokens": int(stats.get("prompt_tokens", 0)),
                    "completion_tokens": int(stats.get("tokens", 0)),
                },
            }

        return chunks()


class FakeOpenAIServer:
    """A streaming ``/v1/chat/completions`` server on 127.0.0.1 for tests and the bench.

    ``reply(request_json)`` returns the list of SSE chunk objects to send, or
    ``(status, body)`` for an HTTP error. Requests are recorded in ``requests``.
    """

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                body = json.dumps({"data": [{"id": "fake"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                req = json.loads(self.rfile.read(length) or b"{}")
                outer.requests.append(req)
                out = outer.reply(req)
                if not isinstance(out, (tuple, list)):
                    out = out if req.get("stream") else list(out)  # a generator streams live
                if isinstance(out, tuple):
                    body = out[1].encode()
                    self.send_response(out[0])
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if not req.get("stream"):  # the same reply as one chat.completion object
                    body = json.dumps(assemble(out)).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                for chunk in out:
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        # Checked for shutdown every 20 ms (socketserver's default, 0.5 s, made each
        # `with` block last half a second longer than its requests).
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def assemble(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """A non-streamed ``chat.completion`` from streamed chunks (content, tool calls, usage)."""
    content = ""
    calls: dict[int, dict[str, Any]] = {}
    usage = None
    finish = "stop"
    for ch in chunks:
        usage = ch.get("usage") or usage
        for choice in ch.get("choices") or []:
            delta = choice.get("delta") or {}
            content += delta.get("content") or ""
            finish = choice.get("finish_reason") or finish
            for tc in delta.get("tool_calls") or []:
                slot = calls.setdefault(
                    int(tc.get("index", 0)), {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
                )
                slot["id"] = tc.get("id") or slot["id"]
                fn = tc.get("function") or {}
                slot["function"]["name"] += fn.get("name") or ""
                slot["function"]["arguments"] += fn.get("arguments") or ""
    message: dict[str, Any] = {"role": "assistant", "content": content or None}
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    out: dict[str, Any] = {
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }
    if usage:
        out["usage"] = usage
    return out


def content_chunks(text: str, size: int = 8) -> list[dict[str, Any]]:
    """SSE chunk objects streaming ``text`` as content deltas."""
    parts = [text[i : i + size] for i in range(0, len(text), size)]
    return [{"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in parts] + [
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    ]


def tool_call_chunks(name: str, arguments: dict[str, Any], call_id: str = "call_1") -> list[dict[str, Any]]:
    """SSE chunk objects for one streamed tool call (arguments split across chunks)."""
    args = json.dumps(arguments)
    half = len(args) // 2
    return [
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": call_id,
                                "type": "function",
                                "function": {"name": name, "arguments": args[:half]},
                            }
                        ]
                    },
                }
            ]
        },
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": args[half:]}}]}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]
