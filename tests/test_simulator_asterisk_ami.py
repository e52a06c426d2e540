"""The simulator checked by code we did not write: the ``asterisk-ami`` package's client.

``asterisk.ami.AMIClient`` is thread-based; its blocking calls run in a worker thread
while the simulator runs on the test's event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import unquote

import pytest
from asterisk.ami import Action, AMIClient

from telephony.simulator import PbxSimulator, PhoneBehaviour
from telephony.simulator.privileges import SHIPPED_WRITE

# The library itself calls the deprecated Condition.notifyAll().
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Collector:
    def __init__(self) -> None:
        self.events: list[Any] = []
        self.lock = threading.Lock()

    def __call__(self, event: Any, **_: Any) -> None:
        with self.lock:
            self.events.append(event)

    def named(self, name: str) -> list[Any]:
        with self.lock:
            return [e for e in self.events if e.name == name]

    async def wait(self, pred: Callable[[Any], bool], within: float = 5.0) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            with self.lock:
                found = [e for e in self.events if pred(e)]
            if found:
                return found[0]
            await asyncio.sleep(0.01)
        raise AssertionError("event never arrived")


@pytest.fixture
async def sim() -> AsyncIterator[PbxSimulator]:
    # A third-party client also runs a CLI Command: that needs write class "command".
    pbx = PbxSimulator(
        "switchboard", "s3cret", time_scale=0.02, seed=3, write=f"{SHIPPED_WRITE},command"
    )
    await pbx.start()
    yield pbx
    await pbx.stop()


async def call(fn: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.to_thread(fn, *args)


async def test_asterisk_ami_client_logs_in_and_sees_events(sim: PbxSimulator) -> None:
    client = AMIClient(address="127.0.0.1", port=sim.port, timeout=10)
    collector = Collector()
    client.add_event_listener(collector)
    future = await call(client.login, "switchboard", "s3cret")
    login = await call(lambda: future.response)
    assert login.status == "Success"
    assert login.keys["Message"] == "Authentication accepted"
    await collector.wait(lambda e: e.name == "FullyBooted")

    pong = await call(lambda: client.send_action(Action("Ping")).response)
    assert pong.status == "Success" and pong.keys["Ping"] == "Pong"

    sim.add_phone("PJSIP/1001", PhoneBehaviour("answer", answer_after=0.5))
    uid = sim.place_call("+15550001111", caller_name="Ada", dtmf=["7"])
    start = await collector.wait(lambda e: e.name == "AsyncAGIStart")
    assert start.keys["Uniqueid"] == uid
    assert "agi_callerid: +15550001111" in unquote(start.keys["Env"])
    chan = start.keys["Channel"]

    agi = Action(
        "AGI",
        keys={"Channel": chan, "Command": 'STREAM FILE hello "0123456789"', "CommandID": "s1"},
    )
    queued = await call(lambda: client.send_action(agi).response)
    assert queued.keys["Message"] == "Added AGI command to queue"
    result = await collector.wait(
        lambda e: e.name == "AsyncAGIExec" and e.keys.get("CommandId") == "s1"
    )
    assert unquote(result.keys["Result"]).startswith("200 result=55 endpos=")

    listing = await call(lambda: client.send_action(Action("CoreShowChannels")).response)
    assert listing.status == "Success" and listing.keys["EventList"] == "start"
    done = await collector.wait(lambda e: e.name == "CoreShowChannelsComplete")
    assert done.keys["ListItems"] == "1"
    assert collector.named("CoreShowChannel")[0].keys["Channel"] == chan

    command = Action("Command", keys={"Command": "core show version"})
    output = await call(lambda: client.send_action(command).response)
    assert output.status == "Success" and output.keys["Output"].startswith("Asterisk 22")

    hangup = Action("Hangup", keys={"Channel": chan})
    assert (await call(lambda: client.send_action(hangup).response)).status == "Success"
    ended = await collector.wait(lambda e: e.name == "Hangup")
    assert ended.keys["Uniqueid"] == uid

    bye = await call(lambda: client.logoff().response)
    assert bye.status == "Goodbye"
    await call(client.disconnect)


async def test_asterisk_ami_client_wrong_secret(sim: PbxSimulator) -> None:
    client = AMIClient(address="127.0.0.1", port=sim.port, timeout=10)
    future = await call(client.login, "switchboard", "nope")
    response = await call(lambda: future.response)
    assert response.is_error() and response.keys["Message"] == "Authentication failed"
    await call(client.disconnect)
