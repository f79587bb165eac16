"""`PDF`: a document for deployments that read files, sent as a base64 `file` part."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from .._mode import Mode
from ._media_io import (
    TIMEOUT,
    check_http,
    fetch,
    gs_public_url,
    is_file,
    is_responses,
    probe,
    read_file,
    unsupported,
)
from ._media_remote import MAX_PDF_BYTES
from ._media_types import (
    PDF_MEDIA_TYPES,
    MediaError,
    b64decode,
    b64encode,
    data_url_type,
    guess_media_type,
    is_pdf,
    normalize_media_type,
    split_data_url,
)


class PDF(BaseModel):
    """A PDF for deployments that read files (`gpt-4o`, `gpt-4.1`, ...), sent as a base64 `file` part."""

    source: str | Path = Field(description="URL, file path, or base64 data of the PDF")
    media_type: str = Field("application/pdf", description="MIME type of the PDF")
    data: str | None = Field(None, description="Base64 encoded PDF data", repr=False)

    @classmethod
    def is_base64(cls, s: str) -> bool:
        """Whether `s` is a base64 data URL of a PDF (`data:application/pdf;base64,`)."""
        return data_url_type(s, "application/pdf") is not None

    @classmethod
    def autodetect(cls, source: str | Path | bytes) -> PDF:
        """A PDF from a data URL, an http(s) or gs:// URL, a file path, raw base64 or bytes."""
        if isinstance(source, bytes):
            return cls.from_bytes(source)
        if isinstance(source, Path):
            return cls.from_path(source)
        if isinstance(source, str):
            if cls.is_base64(source):
                return cls.from_base64(source)
            if source.startswith(("http://", "https://", "gs://")):
                return cls.from_url(source)
            if is_file(source):
                return cls.from_path(source)
            return cls.from_raw_base64(source)
        raise MediaError(f"Unsupported PDF source type: {type(source).__name__}")

    @classmethod
    def autodetect_safely(cls, source: str | Path | bytes) -> PDF | str:
        """`autodetect(source)`, or `str(source)` when it is no usable PDF."""
        try:
            return cls.autodetect(source)
        except ValueError:
            return str(source)

    @classmethod
    def from_base64(cls, data_uri: str) -> PDF:
        """A PDF from a data URL (`data:application/pdf;base64,...`) or from raw base64."""
        if not data_uri.startswith("data:"):
            return cls.from_raw_base64(data_uri)
        media_type, payload = split_data_url(data_uri)
        if media_type not in PDF_MEDIA_TYPES:
            raise unsupported("PDF", media_type, PDF_MEDIA_TYPES)
        return cls(source=data_uri, media_type=media_type, data=payload)

    @classmethod
    def from_raw_base64(cls, data: str) -> PDF:
        """A PDF from base64 without a header (its bytes must start with `%PDF-`)."""
        raw = b64decode(data)
        if raw is None or not is_pdf(raw):
            raise MediaError("Invalid or unsupported base64 PDF data: its bytes do not start with %PDF-")
        return cls(source=data, media_type="application/pdf", data=data)

    @classmethod
    def from_bytes(cls, data: bytes) -> PDF:
        """A PDF from its bytes."""
        if not is_pdf(data):
            raise MediaError("Invalid PDF data: its bytes do not start with %PDF-")
        encoded = b64encode(data)
        return cls(source=encoded, data=encoded)

    @classmethod
    def from_path(cls, path: str | Path) -> PDF:
        """A PDF file (a .pdf suffix, or bytes starting with %PDF-), sent as base64."""
        path = Path(path)
        content = read_file(path, "PDF")
        media_type = guess_media_type(path)
        if media_type not in PDF_MEDIA_TYPES and not is_pdf(content):
            raise unsupported("PDF", media_type, PDF_MEDIA_TYPES)
        return cls(source=path, media_type="application/pdf", data=b64encode(content))

    @classmethod
    def from_url(cls, url: str) -> PDF:
        """A PDF by URL; its bytes are downloaded when the request is built (Azure takes no file URLs).
        An extensionless URL's type is asked with a HEAD request."""
        if url.startswith("gs://"):
            return cls.from_gs_url(url)
        if url.startswith("data:"):
            return cls.from_base64(url)
        check_http(url, "PDF")
        media_type = guess_media_type(urlsplit(url).path) or probe(url, "PDF")
        if media_type not in PDF_MEDIA_TYPES:
            raise unsupported("PDF", media_type, PDF_MEDIA_TYPES)
        return cls(source=url, media_type=media_type, data=None)

    @classmethod
    def from_gs_url(cls, data_uri: str, timeout: int = TIMEOUT) -> PDF:
        """A PDF in a public Google Cloud Storage bucket (gs://bucket/key), downloaded as base64."""
        response = fetch(gs_public_url(data_uri), MAX_PDF_BYTES, "PDF", timeout)
        media_type = normalize_media_type(response.content_type) or "application/pdf"
        if media_type not in PDF_MEDIA_TYPES:
            raise unsupported("PDF", media_type, PDF_MEDIA_TYPES)
        return cls(source=data_uri, media_type=media_type, data=b64encode(response.content))

    def filename(self) -> str:
        """The file name sent with the part: the path's or URL's last segment, else `document.pdf`."""
        source = self.source
        if isinstance(source, Path):
            return source.name or "document.pdf"
        if source.startswith(("http://", "https://", "gs://")):
            return PurePosixPath(urlsplit(source).path).name or "document.pdf"
        if self.is_base64(source) or len(source) > 255 or "/" in source or "\\" in source:
            return PurePosixPath(source).name if is_file(source) else "document.pdf"
        return source if source.lower().endswith(".pdf") else "document.pdf"

    def to_openai(self, mode: Mode | str = Mode.TOOLS) -> dict[str, Any]:
        """The chat completions `file` part (or the Responses `input_file` item), with base64 file_data."""
        data = self.data
        if not data and isinstance(self.source, str) and self.is_base64(self.source):
            data = self.source.split(",", 1)[1]
        if not data and isinstance(self.source, str) and self.source.startswith(("http://", "https://")):
            data = b64encode(fetch(self.source, MAX_PDF_BYTES, "PDF").content)
        if not data:
            raise MediaError(
                "PDF data is missing for base64 encoding: use PDF.from_path, from_url or from_base64"
            )
        file_data = f"data:{self.media_type};base64,{data}"
        if is_responses(mode):
            return {"type": "input_file", "filename": self.filename(), "file_data": file_data}
        return {"type": "file", "file": {"filename": self.filename(), "file_data": file_data}}
