"""Agent console and supervisor wallboard: an aiohttp + jinja2 web app.

Pages, the JSON API, the websocket hub (screen pop, live wallboard), authentication
and roles. It reaches the running contact center only through ``ports.ContactCenter``
and reads history through ``crm_lookup``. May import ``routing``, ``crm_lookup``,
``telephony`` and ``config``; nothing imports it except the ``switchboard`` wiring.
"""
