"""The benchmark's error, apart from the runner so that catching it does not import httpx."""

from __future__ import annotations


class BenchError(Exception):
    """A benchmark could not run or finish; the message is for the operator."""
