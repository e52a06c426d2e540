"""``[cluster]`` settings: off by default, needs a PostgreSQL database.url and a sane node
name, fails start-up with one line naming the key."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

from config.errors import ConfigError
from config.settings import PROJECT_ROOT, ClusterSettings, DatabaseSettings, Settings, load_settings
from switchboard.cluster.wiring import cluster_settings


def with_cluster(url: str, **cluster: object) -> Settings:
    return dataclasses.replace(
        Settings(),
        database=DatabaseSettings(url=url),
        cluster=ClusterSettings(enabled=True, **cluster),  # type: ignore[arg-type]
    )


def test_off_by_default_and_read_from_the_environment() -> None:
    assert Settings().cluster.enabled is False
    loaded = load_settings(
        None,
        {
            "SWITCHBOARD_CLUSTER__ENABLED": "true",
            "SWITCHBOARD_CLUSTER__NODE": "b",
            "SWITCHBOARD_CLUSTER__RPC_TIMEOUT": "2.5",
        },
    )
    assert (loaded.cluster.enabled, loaded.cluster.node, loaded.cluster.rpc_timeout) == (
        True,
        "b",
        2.5,
    )


@pytest.mark.parametrize("url", ["", "sqlite:///var/x.sqlite3"])
def test_a_cluster_needs_a_postgresql_database(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        cluster_settings(with_cluster(url))
    assert caught.value.key == "database.url"


@pytest.mark.parametrize(
    ("node", "channel"), [("Node A", "switchboard"), ("a", "bad-name"), ("x" * 40, "sb")]
)
def test_node_and_channel_names_are_checked(node: str, channel: str) -> None:
    with pytest.raises(ConfigError) as caught:
        cluster_settings(with_cluster("postgresql://u@h/db", node=node, channel=channel))
    assert caught.value.key in ("cluster.node", "cluster.channel")


def test_the_node_name_defaults_to_the_host_name() -> None:
    settings = cluster_settings(with_cluster("postgresql://u@h/db"))
    assert settings.cluster.node and settings.cluster.node == settings.cluster.node.lower()


def test_switchboard_run_refuses_a_cluster_on_sqlite_with_one_line(tmp_path: object) -> None:
    env = {
        **os.environ,
        "SWITCHBOARD_AMI__SECRET": "x",
        "SWITCHBOARD_SECURITY__SESSION_SECRET": "y" * 32,
        "SWITCHBOARD_CLUSTER__ENABLED": "true",
    }
    done = subprocess.run(
        [sys.executable, "-m", "switchboard", "run"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "switchboard: error: settings: database.url: cluster.enabled needs the nodes' shared"
        " PostgreSQL: postgresql://user@host/db"
    ]
