"""The check engine: what is due, running checks, and the state they lead to."""
