"""Conversation persistence in ``copilot_messages`` (the one table the copilot writes).

Writes go through the cursor the caller hands over (the TUI's store cursor, or the
store ``pmax ask`` opened). On a read-only store they are skipped, not fatal: the
answer still reaches the user. Tools never come here; they only read.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from copilot.types import Citation


def save_turn(con: Any, conversation_id: str, question: str, answer: str,
              sources: list[Citation], backend: str) -> bool:
    """Append the user's question and the answer; False when the store is read-only."""
    import duckdb

    now = dt.datetime.now().replace(microsecond=0)
    src = json.dumps([c.to_dict() for c in sources])
    try:
        row = con.execute("SELECT coalesce(max(seq), 0) FROM copilot_messages "
                          "WHERE conversation_id = ?", [conversation_id]).fetchone()
        seq = int(row[0]) if row else 0
        con.execute("INSERT INTO copilot_messages (conversation_id, seq, role, content, sources, "
                    "backend, created_at) VALUES (?, ?, 'user', ?, NULL, NULL, ?), "
                    "(?, ?, 'assistant', ?, ?, ?, ?)",
                    [conversation_id, seq + 1, question, now,
                     conversation_id, seq + 2, answer, src, backend, now])
    except duckdb.Error:  # read-only store, or a write conflict with the engine: skip
        return False
    return True


def load_history(con: Any, conversation_id: str) -> list[dict[str, Any]]:
    """Messages of one conversation, oldest first, with sources decoded."""
    rows = con.execute("SELECT seq, role, content, sources, backend, created_at "
                       "FROM copilot_messages WHERE conversation_id = ? ORDER BY seq",
                       [conversation_id]).fetchall()
    out = []
    for seq, role, content, sources, backend, created in rows:
        out.append({"seq": seq, "role": role, "content": content,
                    "sources": json.loads(sources) if sources else [],
                    "backend": backend, "created_at": created})
    return out


def recent_conversations(con: Any, limit: int = 20) -> list[tuple[str, Any, str]]:
    """(conversation_id, last message time, first question) newest first."""
    return con.execute(
        "SELECT conversation_id, max(created_at) AS last, "
        "arg_min(content, seq) FILTER (WHERE role = 'user') AS first_q "
        "FROM copilot_messages GROUP BY conversation_id ORDER BY last DESC LIMIT ?",
        [limit]).fetchall()
