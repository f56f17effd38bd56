"""The token ledger: how many tokens each host and model served, per hour, kept across dashboard and
server restarts (accounting.py: pure; store.py: SQLite; recorder.py: what the fleet feeds it;
report.py: the tables of `gb10dash usage` and the dashboard's ledger view)."""
