"""``switchboard run``: the service against the Asterisk named in the settings."""

from __future__ import annotations

import argparse
import asyncio

from config.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "run",
        help="run the service against a real Asterisk (settings: --config / environment)",
        description="Connect to Asterisk over AMI and serve the console. Needs ami.secret "
        "and security.session_secret (best from SWITCHBOARD_AMI__SECRET and "
        "SWITCHBOARD_SECURITY__SESSION_SECRET).",
    )
    parser.set_defaults(handler=run_service)


def run_service(args: argparse.Namespace, settings: Settings) -> int:
    # Imported here: the whole service is only needed by this command, not by every --help.
    from switchboard.service import build_service, serve

    settings.require_production()

    async def main() -> None:
        if settings.cluster.enabled:
            from switchboard.cluster.wiring import build_cluster_service

            await serve(await build_cluster_service(settings))
            return
        service = await build_service(settings)
        await serve(service)

    asyncio.run(main())
    return 0
