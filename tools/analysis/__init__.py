"""Repository analysis tools; their shared code is the ``analysis._lib`` package (import it
with ``tools/`` on ``sys.path``, as the scripts do)."""
