"""Azure Batch API extraction: request files written from the same plan as an online call
(`_lines`), a job that submits, polls and downloads them, resumable from its manifest (`_job`, its
calls in `_protocol` for sync and async clients), result files read back into one `Outcome` per
input (`_results`), and the rows that failed validation re-asked online or as a follow-up batch
(`_reask`). See docs/batch.md."""

from ._job import BatchJob, BatchJobFailed, Part, asubmit_batch, submit_batch
from ._lines import CHAT_URL, MAX_BYTES, MAX_LINES, V1_CHAT_URL, RequestFiles, custom_id, write_requests
from ._results import BatchLineError, BatchPromptFilterError, BatchRowMissing, read_results

__all__ = [
    "CHAT_URL",
    "MAX_BYTES",
    "MAX_LINES",
    "V1_CHAT_URL",
    "BatchJob",
    "BatchJobFailed",
    "BatchLineError",
    "BatchPromptFilterError",
    "BatchRowMissing",
    "Part",
    "RequestFiles",
    "asubmit_batch",
    "custom_id",
    "read_results",
    "submit_batch",
    "write_requests",
]
