"""Delivery: the outbox, the relay that drains it, and the topic layout."""
