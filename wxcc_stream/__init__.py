"""wxcc-stream: correct, replayable per-agent and per-task state from WxCC webhooks."""

from wxcc_stream.base.compiled_core import install as _install_compiled_core

__version__ = "0.1.0"

# before any module of the core is imported: a current mypyc build of it is loaded instead
_install_compiled_core()
