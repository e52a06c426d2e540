"""CRM lookup: the customer directory, contact history, cases, reports and CSV import.

Everything is stored in SQLite through aiosqlite (WAL; the default) or in PostgreSQL
through asyncpg, chosen by ``database.url``, with one migration history for both
(:mod:`crm_lookup.database` describes the layer); an optional HTTP adapter consults an external CRM with a short timeout and falls back to
the local store. Used by ``routing`` and ``agent_console``; imports only ``config``.
"""
