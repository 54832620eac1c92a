"""Name -> variant registries.

Every variant of the study (a loss, a penalty, a normalization, an architecture, a data set)
is one function or class plus one ``@REGISTRY.register("name")`` line. The names used in
study files are the registry keys; an unknown name is an error that lists the valid ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar

from landscape.errors import UserError

T = TypeVar("T")


class UnknownNameError(UserError, KeyError, ValueError):
    """A name that is not in a registry. The message lists the valid names."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0])


class Registry(Mapping[str, T], Generic[T]):
    """A read-only mapping from variant names to callables, filled by ``register``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@LOSSES.register("hinge")`` above a function or class."""
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"invalid {self.kind} name {name!r}: use letters, digits, _ and -")

        def add(entry: T) -> T:
            if name in self._entries and self._entries[name] is not entry:
                raise ValueError(
                    f"{self.kind} {name!r} is already registered "
                    f"(by {_where(self._entries[name])}); pick another name"
                )
            self._entries[name] = entry
            return entry

        return add

    def __getitem__(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; choose from: {', '.join(sorted(self._entries))}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self)})"


def _where(entry: object) -> str:
    module = getattr(entry, "__module__", "?")
    return f"{module}.{getattr(entry, '__qualname__', repr(entry))}"
