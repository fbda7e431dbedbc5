"""The signed output request: moved to `protocol` (the torch-free layer both sides share).

This module re-exports it so that `runtime_types.output_auth` keeps working; new code imports
`protocol` directly.
"""

from __future__ import annotations

from protocol import (
    MAX_CLOCK_SKEW_MS,
    OUTPUT_DOMAIN,
    OutputAuthError,
    output_request_message,
    sign_output_request,
    verify_output_request,
)

__all__ = [
    "MAX_CLOCK_SKEW_MS",
    "OUTPUT_DOMAIN",
    "OutputAuthError",
    "output_request_message",
    "sign_output_request",
    "verify_output_request",
]
