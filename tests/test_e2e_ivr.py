"""End to end through the shipped main IVR (DID 5551000): business hours, account check,
callback offer — a simulated caller on 127.0.0.1 presses the keys, the service decides.

The service's clock is set to a chosen time so that "open" and "closed" are certain
(the script's office hours are Europe/London; London is on UTC in November).
"""

from __future__ import annotations

from pathlib import Path

from telephony.simulator import PhoneBehaviour
from tests.service_harness import clock_at, running_service
from tests.test_e2e_calls import agent_state, contact_for, is_type

MAIN_DID = "5551000"
MONDAY_10AM = (2026, 11, 23, 10, 0)
SUNDAY_NOON = (2026, 11, 22, 12, 0)


async def test_after_hours_caller_leaves_a_voicemail(tmp_path: Path) -> None:
    async with running_service(tmp_path, clock=clock_at(SUNDAY_NOON)) as (service, sim, rec, _u):
        sim.place_call("+15550001111", did=MAIN_DID, dtmf=["#"], patience=6000)
        ended = await rec.wait_for(is_type("call_ended"), 30)
        contact = await contact_for(service, ended["call_id"])
        assert contact.outcome == "voicemail"
        assert [s["node"] for s in contact.ivr_path][:3] == [
            "welcome",
            "check_hours",
            "after_hours",
        ]
        assert contact.recording.endswith(".wav")
        assert contact.queue in ("", None)


async def test_unknown_caller_verifies_an_account_and_reaches_support(tmp_path: Path) -> None:
    phones = {"PJSIP/1003": PhoneBehaviour(answer_after=0.2)}
    async with running_service(tmp_path, phones=phones, clock=clock_at(MONDAY_10AM)) as (
        service,
        sim,
        rec,
        _url,
    ):
        olga = await service.store.customers.add(
            "Olga Petrova", ["+15550004444"], accounts=["10000010"]
        )
        await service.center.set_agent_state("1003", "ready")
        # From a number the CRM does not know: English, the account number, then support.
        sim.place_call("+15559990000", did=MAIN_DID, dtmf=["1", "10000010#", "2"], patience=6000)
        pop = await rec.wait_for(is_type("screen_pop", agent_id="1003"), 30)
        assert pop["card"]["customer_id"] == olga.id
        assert pop["call"]["ivr"]["verified"] is True
        assert pop["call"]["queue"] == "support"
        path = [(s["node"], s["digits"]) for s in pop["call"]["ivr"]["path"]]
        assert ("choose_language", "1") in path
        assert ("find_account", "") in path
        assert ("main_menu", "2") in path
        assert ("ask_account", "10000010") in path  # what the caller keyed, without the #


async def test_long_wait_caller_books_a_callback_and_is_called_back(tmp_path: Path) -> None:
    phones = {"PJSIP/1002": PhoneBehaviour(answer_after=0.2)}
    async with running_service(tmp_path, phones=phones, clock=clock_at(MONDAY_10AM)) as (
        service,
        sim,
        rec,
        _url,
    ):
        await service.store.customers.add("Ivan Orlov", ["+15550005555"])
        # Nobody is logged in to sales, so the estimated wait is long and the IVR offers
        # a callback: English, sales, "1" take the callback, "1" on this number.
        sim.place_call("+15550005555", did=MAIN_DID, dtmf=["1", "1", "1", "1"], patience=6000)
        ended = await rec.wait_for(is_type("call_ended"), 30)
        call_id = ended["call_id"]
        contact = await contact_for(service, call_id)
        assert contact.outcome == "callback"
        assert contact.ivr_result == "callback"
        await service.center.set_agent_state("1002", "ready")
        pop = await rec.wait_for(is_type("screen_pop", agent_id="1002"), 20)
        assert pop["call"]["call_id"] == call_id
        assert pop["card"]["name"] == "Ivan Orlov"
        await rec.wait_for(agent_state("1002", "on_call"), 20)
