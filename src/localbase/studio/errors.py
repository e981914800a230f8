"""Studio's one error: a request it cannot serve, said in words, with its HTTP status."""

from __future__ import annotations


class StudioError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
