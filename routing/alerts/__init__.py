"""Supervisor alerts: rules over samples of the live statistics (pure, see ``engine``)."""
