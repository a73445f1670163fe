"""One writer, many readers: the owner of a database serves it to other pmax processes.

- `rendezvous`: the owner file and socket in the per-user runtime folder.
- `server`: `StoreEndpoint`, the owner's Arrow Flight endpoint (read-only SQL, events).
- `reader`: `open_reader`, a Store-like reader that attaches or reads the file.
- `owner`: `open_owned`, how a writer takes the file (handover from an idle app).
- `client`: the event stream, handover and control requests.
"""
