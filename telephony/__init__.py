"""Telephony: everything that speaks to Asterisk.

``ami/`` is the sans-I/O AMI protocol (bytes in, typed messages out) with a thin asyncio
client around it; ``agi`` runs AsyncAGI sessions over that client; ``calls`` groups
channels into calls; ``prompts`` converts audio for Asterisk; ``simulator/`` is a PBX
that speaks AMI like Asterisk 22 for the demo and the tests. Imports only ``config``.
"""
