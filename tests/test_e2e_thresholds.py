"""The queue file's wallboard thresholds reach the console through the real service, and a
reload of the file replaces them without a restart."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.service_harness import running_service

ROOT = Path(__file__).resolve().parent.parent


def queue(service: object, name: str) -> dict[str, object]:
    snap = service.center.snapshot()  # type: ignore[attr-defined]
    return next(q for q in snap["queues"] if q["name"] == name)


async def test_thresholds_are_in_the_queue_shape_and_follow_a_reload(tmp_path: Path) -> None:
    queues = tmp_path / "queues.yaml"
    shutil.copy(ROOT / "config" / "queues.yaml", queues)
    async with running_service(tmp_path, queues_file=queues) as (service, _sim, _rec, _url):
        assert queue(service, "sales")["thresholds"] == {
            "service_level": {"warn": 0.8, "bad": 0.6},
            "longest_wait": {"warn": 60.0, "bad": 120.0},
            "waiting": {"warn": 5.0, "bad": 10.0},
        }
        assert queue(service, "billing")["thresholds"] == {}

        text = queues.read_text().replace(
            "\n      waiting: {warn: 5, bad: 10}\n", "\n      waiting: {warn: 2}\n", 1
        )
        queues.write_text(text)
        await service.center.reloader.reload_once()
        assert service.center.reloader.status()["ok"] is True
        assert queue(service, "sales")["thresholds"]["waiting"] == {"warn": 2.0}

        # a bad threshold is refused with its key; the old ones keep serving
        queues.write_text(text.replace("waiting: {warn: 2}", "waiting: {warn: 9, bad: 3}", 1))
        await service.center.reloader.reload_once()
        error = service.center.reloader.status()["errors"][0]["error"]
        assert "queues.sales.thresholds.waiting.bad" in error
        assert queue(service, "sales")["thresholds"]["waiting"] == {"warn": 2.0}
