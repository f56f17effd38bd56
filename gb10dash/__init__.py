"""gb10dash: a terminal dashboard for GB10 hosts serving LLMs with llama-server."""

__version__ = "0.1.0"
