"""The webhook simulator: sends a generated scenario to an ingress over HTTP, signed the
way WxCC signs, damaged the way WxCC delivers (shuffled, duplicated, dropped)."""

from wxcc_stream.devtools.simulator.errors import SimulatorError
from wxcc_stream.devtools.simulator.prepare import Prepared, SigningKeys, prepare
from wxcc_stream.devtools.simulator.progress import Progress
from wxcc_stream.devtools.simulator.sender import SendConfig, SendSummary, send_events
from wxcc_stream.devtools.simulator.target import check_target

__all__ = [
    "Prepared",
    "Progress",
    "SendConfig",
    "SendSummary",
    "SigningKeys",
    "SimulatorError",
    "check_target",
    "prepare",
    "send_events",
]
