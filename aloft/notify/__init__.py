"""Notifications: the channel types in use, the outbox rows state changes write, and sending them with retries."""
