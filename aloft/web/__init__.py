"""The web UI for people: for now, where ``/`` and the links in notifications lead."""
