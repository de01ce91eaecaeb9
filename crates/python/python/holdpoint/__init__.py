"""holdpoint: decide every tool call an AI agent makes, in-process, and wait for people
through the approval service.

    >>> import holdpoint
    >>> policy = holdpoint.Policy.load("policies/support")
    >>> policy.evaluate({"tool": "stripe.refund", "args": {"amount": 900}}).effect
    'approve'

`Policy` is the compiled policy (Rust, shared by every thread); `Client` and
`AsyncClient` talk to `policy serve`; `holdpoint.langgraph` and `holdpoint.openai_agents`
adapt both to those frameworks.
"""

from ._holdpoint import (
    CallError,
    Decision,
    Diagnostic,
    HoldpointError,
    PermitError,
    Policy,
    PolicyError,
    __version__,
    verify_permit,
)
from .client import AsyncClient, Client, ServiceError

__all__ = [
    "AsyncClient",
    "CallError",
    "Client",
    "Decision",
    "Diagnostic",
    "HoldpointError",
    "PermitError",
    "Policy",
    "PolicyError",
    "ServiceError",
    "__version__",
    "verify_permit",
]
