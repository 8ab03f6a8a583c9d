"""`velocipy ws-probe`: an interactive and scripted WebSocket client.

One module per concept: ``runner`` (one probe, start to end), ``session``, ``connection``,
``display`` and ``rendering``, ``actions`` (what a line of input asks), ``targets``, ``load``,
``transcript``. Nothing is imported here, so ``velocipy --help`` does not load the probe.
"""
