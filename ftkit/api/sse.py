"""Server-sent events: the `data:` payloads of a text/event-stream, line by line."""

from __future__ import annotations

DONE = "[DONE]"


class SSEDecoder:
    """Joins the `data:` lines of each event; an empty line ends an event.

    `feed(line)` returns the event's data once the event is complete, else None. Comments
    (`:`), `event:`, `id:` and `retry:` fields are ignored, as the OpenAI streams need no more.
    """

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> str | None:
        """Take one line (without its line ending); return a finished event's data or None."""
        if line == "":
            if not self._data:
                return None
            data = "\n".join(self._data)
            self._data = []
            return data
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None

    def flush(self) -> str | None:
        """The data of an event the stream ended without a blank line after, if any."""
        return self.feed("")
