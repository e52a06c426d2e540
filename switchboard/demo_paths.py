"""Where the demo keeps its database: read by ``switchboard demo`` and by the commands
that fall back to it (``report``, ``crm export-contacts``).

The demo keeps its own database, never the configured one: its users have a published
password.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_DATA_DIR = Path("var/demo")
DEMO_DATABASE_FILE = "demo.sqlite3"
