"""What the embedded default runs in-house: the Kafka-protocol broker it starts as a
child process, and the lock that queues writers of its SQLite store."""
