"""B16's programs: each is run as ``python <file>`` in a fresh interpreter and timed whole.

Each one imports what it needs, builds a 10-step chain of the same no-op function and runs it
once, then exits with status 0 when the run succeeded. Nothing else is imported.
"""
