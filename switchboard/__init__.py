"""The ``switchboard`` command and the wiring of the service.

``cli`` parses commands; ``service`` builds the running service from the layers
below (telephony, routing, crm_lookup, agent_console) and ``demo`` adds the in-process
PBX simulator and demo data. This is the top layer: it may import every package and
no package imports it.
"""

__version__ = "0.1.0"
