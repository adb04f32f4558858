"""wxcc-stream: correct, replayable per-agent and per-task state from WxCC webhooks."""

__version__ = "0.1.0"
