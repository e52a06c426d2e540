"""The IVR: YAML scripts (``script``), business hours (``hours``), a pure interpreter
(``interpreter``: events in, commands out) and the asyncio ``runner`` that executes its
commands over an AsyncAGI session."""
