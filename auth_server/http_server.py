"""The HTTP server's protocol: uvicorn's h11 implementation with the request head bounded.

uvicorn's default parser (httptools) buffers a request's line and headers without any
limit: one 80 MB header held 320 MB of memory and stalled /health for 8 s. h11 refuses a
head larger than `h11_max_incomplete_event_size` (MAX_HEADER_BYTES) as soon as that much
is buffered, so nothing beyond the limit (plus one socket read) is ever held. uvicorn then
answers 400; this subclass answers 431 Request Header Fields Too Large (RFC 6585) in the
API's envelope, and closes the connection. The number of header fields is bounded by the
application (api/limits.py), the head's size bounds it here first.
(Rejected: httptools with a byte count in its callbacks, which relies on uvicorn's
internals; nginx alone, which leaves every direct or internal caller unbounded.)
"""

from __future__ import annotations

import json
import sys

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

TOO_LARGE = 431


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol; an oversized request head gets 431 instead of 400."""

    def send_400_response(self, msg: str) -> None:
        # uvicorn calls this from its `except h11.RemoteProtocolError` block, so the error
        # in hand says why; h11 hints 431 only for a head over the size limit.
        error = sys.exc_info()[1]
        if not isinstance(error, h11.RemoteProtocolError) or error.error_status_hint != TOO_LARGE:
            super().send_400_response(msg)
            return
        body = json.dumps(
            {
                "success": False,
                "code": "request_header_fields_too_large",
                "message": "The request line and headers are too large",
            }
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=TOO_LARGE, headers=headers),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event))
        self.transport.close()
