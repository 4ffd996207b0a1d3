"""Background work in PostgreSQL: the queue (queue.py), the worker loop (worker.py), what a handler is
given (contract.py), remote host health (hosts.py). docs/jobs.md describes them."""
