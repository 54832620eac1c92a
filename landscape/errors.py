"""The one error type the command line turns into a message instead of a traceback.

A ``UserError`` is a mistake the user can fix (a study file, a flag, a plugin, a folder). Its
message is one paragraph that names the file, the key or the flag, what was wrong and what would
be right. ``landscape`` prints it and exits with status 2; ``landscape --debug`` shows the
traceback. Anything else that escapes a command is a bug: a short message and status 1.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake the user can fix; ``str(error)`` is the whole message, one paragraph."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
