"""Azure OpenAI's Files API, as far as the Batch API needs it: upload, list, retrieve, content, delete.

Routes: `/openai/files[...]` (with `api-version`, the path `AzureOpenAI` uses) and `/openai/v1/files[...]`.
The file object follows the Azure batch how-to's sample (learn.microsoft.com/azure/ai-foundry/openai/
how-to/batch, "Upload batch file"): `id` ("file-" + 32 hex digits), `object` "file", `purpose`,
`filename`, `bytes`, `created_at` (Unix seconds), `status` "processed", `status_details` null,
`expires_at` (null unless `expires_after` is sent). Files a batch writes have purpose "batch_output".

Expiry (the batch how-to's Python include): `files.create(..., extra_body={"expires_after": {"seconds":
N, "anchor": "created_at"}})`, N from 1,209,600 to 2,592,000 (14 to 30 days). The openai SDK sends it,
like its own `expires_after=` argument, as the form fields `expires_after[seconds]` and
`expires_after[anchor]`. `expires_at` is then `created_at + N`; once the emulator's clock passes it the
file is gone (404). A value out of range, or another anchor, is a 400 (the emulator's wording).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import _body as body_limits
from . import _media as media
from . import _wire as wire

if TYPE_CHECKING:
    from ._app import EmulatorApp, _Call
    from ._quota import Clock

JSON = dict[str, Any]
PURPOSES = frozenset({"batch", "fine-tune", "assistants", "vision", "user_data", "evals"})
#: The expiry Azure accepts for batch input and output files, in seconds (14 to 30 days).
MIN_EXPIRY_SECONDS = 1_209_600
MAX_EXPIRY_SECONDS = 2_592_000
#: Azure's largest batch input file ("Maximum input file size: 200 MB", global-batch-limits), read as
#: MiB. Uploads may be this large whatever `Emulator(max_body_bytes=...)` says (plus the form's envelope).
MAX_BATCH_FILE_BYTES = 200 * 1024 * 1024
_ENVELOPE_BYTES = 1024 * 1024


@dataclass
class StoredFile:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int
    expires_at: int | None = None

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "status_details": None,
            "expires_at": self.expires_at,
        }


class FileStore:
    """The emulator's uploaded (and batch-written) files, in memory. Timestamps are Unix seconds read
    from the emulator's clock (`now_unix`): with a `ManualClock`, `advance` moves them too."""

    def __init__(self, clock: Callable[[], Clock]) -> None:
        self._clock = clock
        self._epoch = time.time() - clock().now()
        self._files: dict[str, StoredFile] = {}
        self._lock = threading.Lock()

    def now_unix(self) -> int:
        return int(self._epoch + self._clock().now())

    def add(
        self,
        data: bytes,
        *,
        filename: str,
        purpose: str,
        file_id: str | None = None,
        expires_after: int | None = None,
    ) -> StoredFile:
        now = self.now_unix()
        stored = StoredFile(
            id=file_id or f"file-{uuid.uuid4().hex}",
            filename=filename,
            purpose=purpose,
            data=data,
            created_at=now,
            expires_at=now + expires_after if expires_after is not None else None,
        )
        with self._lock:
            self._files[stored.id] = stored
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        """The file, unless there is none or it has expired (an expired file is dropped)."""
        now = self.now_unix()
        with self._lock:
            stored = self._files.get(file_id)
            if stored is not None and stored.expires_at is not None and now >= stored.expires_at:
                del self._files[file_id]
                return None
            return stored

    def all(self) -> list[StoredFile]:
        now = self.now_unix()
        with self._lock:
            expired = [f.id for f in self._files.values() if f.expires_at is not None and now >= f.expires_at]
            for file_id in expired:
                del self._files[file_id]
            return list(self._files.values())

    def delete(self, file_id: str) -> bool:
        with self._lock:
            return self._files.pop(file_id, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._files.clear()


def expiry_seconds(seconds: Any, anchor: Any, param: str) -> int:
    """A checked `expires_after` ({"seconds": N, "anchor": "created_at"}): N, or Azure's 400.
    `seconds` may be the text of a form field."""
    if seconds is None:
        raise wire.missing_parameter(f"{param}.seconds")
    if anchor is None:
        raise wire.missing_parameter(f"{param}.anchor")
    if anchor != "created_at":
        raise wire.invalid_value(
            f"{param}.anchor",
            f"Invalid value for {param}.anchor: '{anchor}'. Supported values are: 'created_at'.",
        )
    if isinstance(seconds, str) and seconds.strip().isdigit():
        seconds = int(seconds)
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int)
        or not MIN_EXPIRY_SECONDS <= seconds <= MAX_EXPIRY_SECONDS
    ):
        raise wire.invalid_value(
            f"{param}.seconds",
            f"Invalid value for {param}.seconds: '{seconds}'. It must be a whole number of seconds from "
            f"{MIN_EXPIRY_SECONDS} to {MAX_EXPIRY_SECONDS} (14 to 30 days).",
        )
    return seconds


def _form_expiry(fields: dict[str, str]) -> int | None:
    """`expires_after` from an upload's form: bracketed fields (what the openai SDK sends), or one field
    holding a JSON object."""
    seconds = fields.get("expires_after[seconds]")
    anchor = fields.get("expires_after[anchor]")
    whole = fields.get("expires_after")
    if whole is not None and seconds is None and anchor is None:
        try:
            value = json.loads(whole)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise wire.invalid_type("expires_after", "an object", whole)
        seconds, anchor = value.get("seconds"), value.get("anchor")
    if seconds is None and anchor is None:
        return None
    return expiry_seconds(seconds, anchor, "expires_after")


def file_not_found(file_id: str) -> wire.AzureError:
    return wire.AzureError(
        404,
        {
            "error": {
                "message": f"File with id '{file_id}' not found.",
                "type": "invalid_request_error",
                "param": None,
                "code": "fileNotFound",
            }
        },
    )


async def admit(app: EmulatorApp, call: _Call) -> None:
    """api-version (none on v1 paths), then authentication, as for every other route."""
    v1 = call.request.url.path.startswith("/openai/v1/")
    app._check_api_version(call, v1=v1)
    app._authenticate(call)


def list_body(items: list[JSON], *, has_more: bool = False) -> JSON:
    """Azure's list shape for files and batches."""
    return {
        "object": "list",
        "data": items,
        "first_id": items[0]["id"] if items else None,
        "last_id": items[-1]["id"] if items else None,
        "has_more": has_more,
    }


def file_routes(app: EmulatorApp) -> list[Route]:
    from ._app import _Call

    store = app.emulator.files

    async def upload(request: Request) -> Response:
        call = _Call(request, "files")
        try:
            await admit(app, call)
            limit = max(app.emulator.max_body_bytes, MAX_BATCH_FILE_BYTES + _ENVELOPE_BYTES)
            raw = await body_limits.read_body(request, limit)
            form = media.parse_multipart(request.headers.get("content-type"), raw)
            call.body = form.record()
            purpose = form.fields.get("purpose")
            if purpose is None:
                raise wire.missing_parameter("purpose")
            if purpose not in PURPOSES:
                raise wire.invalid_value("purpose", f"Invalid value for purpose: '{purpose}'.")
            upload = form.files.get("file")
            if upload is None:
                raise wire.missing_parameter("file")
            if purpose == "batch" and len(upload.data) > MAX_BATCH_FILE_BYTES:
                raise wire.invalid_request(
                    f"The file is {len(upload.data)} bytes; a batch input file can be at most "
                    f"{MAX_BATCH_FILE_BYTES} bytes (200 MB).",
                    param="file",
                    code="RequestEntityTooLarge",
                    status=413,
                )
            seconds = _form_expiry(form.fields)
            stored = store.add(
                upload.data, filename=upload.filename or "file", purpose=purpose, expires_after=seconds
            )
            return app._finish(call, stored.to_json())
        except wire.AzureError as error:
            return app._finish(call, error)

    async def listing(request: Request) -> Response:
        call = _Call(request, "files")
        try:
            await admit(app, call)
        except wire.AzureError as error:
            return app._finish(call, error)
        purpose = request.query_params.get("purpose")
        files = [f.to_json() for f in store.all() if purpose is None or f.purpose == purpose]
        return app._finish(call, list_body(files))

    async def one(request: Request) -> Response:
        call = _Call(request, "files")
        file_id = request.path_params["file_id"]
        try:
            await admit(app, call)
            stored = store.get(file_id)
            if stored is None:
                raise file_not_found(file_id)
            if request.method == "DELETE":
                store.delete(file_id)
                return app._finish(call, {"id": file_id, "object": "file", "deleted": True})
            return app._finish(call, stored.to_json())
        except wire.AzureError as error:
            return app._finish(call, error)

    async def content(request: Request) -> Response:
        call = _Call(request, "files")
        file_id = request.path_params["file_id"]
        try:
            await admit(app, call)
            stored = store.get(file_id)
            if stored is None:
                raise file_not_found(file_id)
        except wire.AzureError as error:
            return app._finish(call, error)
        app._record(call, 200)
        return Response(stored.data, headers=app._headers(call, 200), media_type="application/octet-stream")

    routes: list[Route] = []
    for prefix in ("/openai/files", "/openai/v1/files"):
        routes += [
            Route(prefix, upload, methods=["POST"]),
            Route(prefix, listing, methods=["GET"]),
            Route(prefix + "/{file_id}", one, methods=["GET", "DELETE"]),
            Route(prefix + "/{file_id}/content", content, methods=["GET"]),
        ]
    return routes
