"""The chat visitor's frames, limits and rate limiter: bytes in, frames or errors out,
no event loop (routing.chat_protocol)."""

from __future__ import annotations

import json

import pytest

from routing.chat_protocol import (
    ClientMessage,
    ClientResume,
    ClientStart,
    ClientTyping,
    ConnectionCounter,
    FrameError,
    Limits,
    TokenBucket,
    parse_frame,
    serialize,
)


def frame(**fields: object) -> str:
    return json.dumps(fields)


def code(raw: str | bytes, limits: Limits = Limits()) -> str:
    with pytest.raises(FrameError) as caught:
        parse_frame(raw, limits)
    return caught.value.code


def test_a_start_frame() -> None:
    got = parse_frame(
        frame(type="start", name=" Ada ", phone="+1 415 555 0100", topic="sales", language="en")
    )
    assert got == ClientStart("Ada", "+1 415 555 0100", "", "sales", "en")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"type": "start", "phone": "1"}, "missing_field"),  # no name
        ({"type": "start", "name": "Ada"}, "missing_field"),  # no phone nor email
        ({"type": "start", "name": "Ada", "email": "not-an-address"}, "bad_field"),
        ({"type": "start", "name": "A\nda", "phone": "1"}, "bad_field"),
        ({"type": "start", "name": "x" * 201, "phone": "1"}, "too_long"),
        ({"type": "start", "name": 7, "phone": "1"}, "bad_field"),
        ({"type": "message"}, "missing_field"),
        ({"type": "message", "text": "   "}, "missing_field"),
        ({"type": "message", "text": "x" * 2001}, "too_long"),
        ({"type": "typing", "on": "yes"}, "bad_field"),
        ({"type": "resume", "conversation": "chat:1", "token": "t", "after_seq": -1}, "bad_field"),
        (
            {"type": "resume", "conversation": "chat:1", "token": "t", "after_seq": True},
            "bad_field",
        ),
        ({"type": "resume", "token": "t"}, "missing_field"),
        ({"type": "transcript", "email": "nobody"}, "bad_field"),
        ({"type": "transcript"}, "missing_field"),
        ({"type": "sudo"}, "unknown_type"),
        ({"no": "type"}, "unknown_type"),
    ],
)
def test_bad_frames_get_a_clear_code(fields: dict[str, object], expected: str) -> None:
    assert code(json.dumps(fields)) == expected


def test_not_json_not_an_object_and_too_large() -> None:
    assert code("{") == "bad_frame"
    assert code("[1, 2]") == "bad_frame"
    assert code("[" * 100_000) in ("too_large", "bad_frame")
    assert code(frame(type="message", text="x" * 9000)) == "too_large"
    small = Limits(frame_bytes=100)
    assert code(frame(type="message", text="é" * 60), small) == "too_large"  # bytes, not chars


def test_messages_typing_and_resume() -> None:
    assert parse_frame(frame(type="message", text="Hi\nthere", client_id="c1")) == ClientMessage(
        "Hi\nthere", "c1"
    )
    assert parse_frame(frame(type="typing", on=True)) == ClientTyping(True)
    assert parse_frame(
        frame(type="resume", conversation="chat:ab", token="tok", after_seq=4)
    ) == ClientResume("chat:ab", "tok", 4)


def test_serialize_is_ascii_so_no_markup_survives_unescaped() -> None:
    text = serialize({"type": "message", "text": "<script>é</script>"})
    assert text.isascii() and json.loads(text)["text"] == "<script>é</script>"


def test_the_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate=1.0, burst=3, at=0.0)
    assert [bucket.allow(0.0) for _ in range(4)] == [True, True, True, False]
    assert not bucket.allow(0.5)
    assert bucket.allow(1.0)  # a token a second
    assert not bucket.allow(1.0)
    assert [bucket.allow(100.0) for _ in range(4)] == [True, True, True, False]  # capped


def test_the_counter_limits_sockets_per_address() -> None:
    counter = ConnectionCounter(2)
    assert counter.acquire("a") and counter.acquire("a") and not counter.acquire("a")
    assert counter.acquire("b")
    counter.release("a")
    assert counter.acquire("a")
    counter.release("a")
    counter.release("a")
    assert counter.open == {"b": 1}
