"""Processing what the inbox stored: one handler per activity type, grouped by subject.

dispatch.py (the `inbox` job and the table), context.py (what every handler is given), posts.py, graph.py,
accounts.py and groups.py (the handlers).
"""
