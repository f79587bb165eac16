"""Azure Batch API extraction (issue 13, in progress): request files written from the same plan as an
online call (`_lines`), a job that submits, polls and downloads them, resumable from its manifest
(`_job`), and result files read back into one `Outcome` per input."""

from ._job import BatchJob, BatchJobFailed, submit_batch
from ._lines import (
    CHAT_URL,
    MAX_BYTES,
    MAX_LINES,
    V1_CHAT_URL,
    BatchLineError,
    BatchRowMissing,
    RequestFiles,
    custom_id,
    read_results,
    write_requests,
)

__all__ = [
    "CHAT_URL",
    "MAX_BYTES",
    "MAX_LINES",
    "V1_CHAT_URL",
    "BatchJob",
    "BatchJobFailed",
    "BatchLineError",
    "BatchRowMissing",
    "RequestFiles",
    "custom_id",
    "read_results",
    "submit_batch",
    "write_requests",
]
