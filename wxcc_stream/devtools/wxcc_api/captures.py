"""The API's view of recordings: `POST /v1/captures/query` answers derived from a scenario.

Each capture:available the generator emitted is one recording of its task. The API hands
out its `filePath` as a signed URL that expires `urlExpiration` minutes after the query;
the signature is an HMAC of path and expiry under the simulator's own key.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from wxcc_stream.devtools.scenario import Scenario

MAX_TASK_IDS = 10
MAX_URL_EXPIRATION_MIN = 60


@dataclass(frozen=True, slots=True)
class Recording:
    """One capture of a task: where it is kept and when it was made available."""

    task_id: str
    file_path: str
    available: int
    started: int


def recordings(scenario: Scenario) -> dict[str, tuple[Recording, ...]]:
    """Every task's recordings in order; a recording starts when its task connected."""
    connected: dict[str, int] = {}
    found: dict[str, list[Recording]] = {}
    for event in scenario.events:
        data = event["data"]
        if event["type"] == "task:connected":
            connected.setdefault(data["taskId"], data["createdTime"])
        elif event["type"] == "capture:available":
            task_id = data["taskId"]
            found.setdefault(task_id, []).append(
                Recording(
                    task_id,
                    data["filePath"],
                    data["createdTime"],
                    connected.get(task_id, data["createdTime"]),
                )
            )
    return {task_id: tuple(found[task_id]) for task_id in found}


def signed_url(file_path: str, expires_ms: int, key: bytes) -> str:
    """The recording's URL, valid until `expires_ms`."""
    signature = hmac.new(key, f"{file_path}|{expires_ms}".encode(), hashlib.sha256).hexdigest()
    return f"{file_path}?Expires={expires_ms // 1000}&Signature={signature[:32]}"


def capture_answer(
    task_ids: list[str],
    known: dict[str, tuple[Recording, ...]],
    *,
    now_ms: int,
    issued_ms: int,
    url_expiration_min: int,
    key: bytes,
) -> list[dict[str, Any]]:
    """The `data` list: one entry per asked task, empty lists for an unknown one.

    `now_ms` is the API's clock in the scenario's day (what is known yet); `issued_ms`
    the real time the URLs are handed out (they expire from then).
    """
    expires = issued_ms + url_expiration_min * 60_000
    return [
        {
            "taskId": task_id,
            "recording": [
                _recording(index, rec, expires, key)
                for index, rec in enumerate(known.get(task_id, ()))
                if rec.available <= now_ms
            ],
            "transcription": [],
        }
        for task_id in task_ids
    ]


def _recording(index: int, rec: Recording, expires: int, key: bytes) -> dict[str, Any]:
    file_name = rec.file_path.rsplit("/", 1)[-1]
    return {
        "id": file_name.removesuffix(".wav"),
        "segment": index > 0,
        "attributes": {
            "fileName": file_name,
            "filePath": signed_url(rec.file_path, expires, key),
            "startTime": rec.started,
            "stopTime": rec.available,
            "participants": [],
            "channel1": None,
            "channel2": None,
            "callType": "telephony",
            "sensitive": False,
        },
    }
