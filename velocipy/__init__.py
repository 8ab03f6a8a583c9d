"""VelociPy: a small, fast web framework for ASGI and RSGI."""
