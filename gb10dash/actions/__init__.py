"""Actions: plans of steps built by pure code, run by one executor, written to an audit log."""
