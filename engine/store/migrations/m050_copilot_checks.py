"""Copilot number checks: one row per answer with how many numbers it printed, how
many were found in the rows it cited, what the check did about the rest, and
whether the answer may be fed back to the model as conversation history.
"""

VERSION = 50

SQL = """
CREATE TABLE copilot_checks (
    conversation_id VARCHAR,
    seq INTEGER,                -- the assistant message's seq in copilot_messages
    backend VARCHAR,
    numbers INTEGER,
    verified INTEGER,
    unverified INTEGER,
    action VARCHAR,             -- verified | rewritten | fallback | none
    unverified_values VARCHAR,  -- JSON list of the numbers as the model printed them
    looped BOOLEAN,             -- generation repeated itself (or failed) and was cut
    fed_back BOOLEAN,           -- used as history for the next question
    created_at TIMESTAMP,
    PRIMARY KEY (conversation_id, seq)
);
"""
