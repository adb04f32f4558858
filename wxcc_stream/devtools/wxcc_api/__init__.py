"""A faithful simulator of the WxCC reconciliation APIs, for a generated scenario.

`build_app(generate(config), ApiSimConfig(...))` serves the API's view of the same day
whose webhooks `simulate` sends: OAuth tokens, agent activities, Search (GraphQL
`taskDetails`) and captures, with the vendor's limits and optional faults (429 with
Retry-After, 5xx, slow answers, tokens expiring mid-run). `serve(app)` runs it on
127.0.0.1 for tests; `wxcc-stream simulate-api` runs it from the command line.
"""

from __future__ import annotations

from wxcc_stream.devtools.wxcc_api.app import STATE, ApiSimConfig, ApiState, build_app, serve
from wxcc_stream.devtools.wxcc_api.errors import ApiSimulatorError, BadRequest
from wxcc_stream.devtools.wxcc_api.faults import Fault, FaultPlan, FaultSettings
from wxcc_stream.devtools.wxcc_api.tokens import TokenSettings

__all__ = [
    "STATE",
    "ApiSimConfig",
    "ApiSimulatorError",
    "ApiState",
    "BadRequest",
    "Fault",
    "FaultPlan",
    "FaultSettings",
    "TokenSettings",
    "build_app",
    "serve",
]
