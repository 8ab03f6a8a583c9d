"""Apps the interop tests serve with real uvicorn and granian processes."""
