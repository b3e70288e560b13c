"""What the embedded default runs in-house: the Kafka-protocol broker it starts as a
child process, the lock that queues writers of its SQLite store, and its data
directory (its owner's alone, with a pseudonymisation key of its own)."""
