"""`gb10dash doctor`: the read-only checks an operator runs first against real hosts."""
