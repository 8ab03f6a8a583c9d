"""The dev server: a supervisor that owns the socket and the watcher, and a child that serves.

``supervisor`` runs in the ``velocipy run`` process and never imports the user's app; ``child``
runs in a fresh interpreter per (re)start and serves the app on uvicorn or granian through the
socket the supervisor bound once.
"""
