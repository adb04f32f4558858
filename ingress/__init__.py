"""The webhook receiver: WxCC POSTs CloudEvents here; each is stored in Kafka before a 2xx.

Pure modules (`policy`, `signature`, `admission`, `records`, `problems`) decide; the
shell (`publisher`, `spool`, `app`, `main`) talks to Kafka, the disk and HTTP.
"""

from wxcc_stream.ingress.errors import IngressError, PublishError, SpoolError

__all__ = ["IngressError", "PublishError", "SpoolError"]
