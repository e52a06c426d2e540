"""Settings and the shared exception hierarchy: the bottom layer.

``config.settings`` loads ``switchboard.toml`` plus environment overrides into frozen
dataclasses; ``config.errors`` is the one exception tree every package raises from.
This package imports nothing of ours; every other package may import it. The folder
also holds data: the documented default ``switchboard.toml``, ``queues.yaml`` and the
sample Asterisk configuration in ``asterisk/``.
"""

from config.errors import ConfigError, SwitchboardError
from config.settings import Settings, load_settings

__all__ = ["ConfigError", "Settings", "SwitchboardError", "load_settings"]
