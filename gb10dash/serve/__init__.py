"""`gb10dash serve`: the dashboard in a browser through textual-serve, one app process per browser session.

bind.py holds the pure rules (what may bind where, the token file, the per-session command);
server.py the web server (token and origin checks before a session's app starts); command.py the CLI glue.
"""
