"""pmax's copilot: answers questions about the portfolio from the store, cites the
rows it used, streams Markdown, and can never trade.

API for the TUI's Copilot pane (and anything else)::

    from copilot.session import CopilotSession

    session = CopilotSession(cursor_factory=store.cursor, config=config)
    # in a Textual thread worker (@work(thread=True)):
    cancel = threading.Event()                  # set it on `escape`
    for chunk in session.stream(question, cancel=cancel):   # Markdown chunks
        app.call_from_thread(markdown_stream.write, chunk)
    answer = session.last_answer                # Answer(text, sources, backend, timings)
    answer.sources                              # list[Citation(table, key, as_of)]
    session.ask(question) -> Answer             # non-streaming
    session.history() -> list[dict]             # this conversation, from copilot_messages
    session.status() -> dict                    # backend, model, device, memory

- ``cursor_factory`` is called once per question *in the worker thread*; pass the
  app Store's ``store.cursor``. The copilot reads through it and writes only
  ``copilot_messages`` (skipped silently on a read-only store).
- Calls on one session are serialised; cancelling ends the stream at the next token
  with ``_(stopped)_`` and the partial answer is not cached.
- The first question with the transformers backend loads the model (seconds);
  ``session.backend.load()`` in a worker warms it up ahead of time.
- Errors are ``engine.errors.PmaxError`` subclasses with a hint:
  ``ModelNotFoundError`` (a configured model is missing), ``BackendUnavailableError``
  (a model server is down, only when that backend was configured explicitly).

Layout: ``tools/`` read-only grounding queries → ``router`` picks them →
``prompt`` fences their rows for a model → ``backends/`` (offline, transformers,
openai) write the answer → ``render`` formats rows, sources and refusals →
``cache`` and ``history`` keep answers. Never imports textual; torch and
transformers load only when a transformers backend loads its model.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CopilotSession", "Answer", "Citation", "ToolResult"]


def __getattr__(name: str) -> Any:  # lazy: `import copilot` stays cheap
    if name == "CopilotSession":
        from copilot.session import CopilotSession

        return CopilotSession
    if name in ("Answer", "Citation", "ToolResult"):
        from copilot import types

        return getattr(types, name)
    raise AttributeError(name)
