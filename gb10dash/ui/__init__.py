"""The Textual dashboard. Widgets never do I/O: they are given HostState through messages."""
