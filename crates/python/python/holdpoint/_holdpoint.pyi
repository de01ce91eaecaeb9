"""Type stubs of the compiled part of holdpoint (crates/python/src/lib.rs)."""

from os import PathLike
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

Call = Union[dict[str, Any], str]
"""A tool call: a dict in any shape holdpoint reads (OpenAI, Anthropic, MCP, or
`{"tool", "args", "context"}`), or the same as JSON text."""

__version__: str

class HoldpointError(Exception):
    """Every error holdpoint raises."""

class PolicyError(HoldpointError):
    """A policy that does not load. The message is the CLI's; `diagnostics` has each
    finding with its place."""

    diagnostics: list[Diagnostic]

class CallError(HoldpointError):
    """A call that is not a tool call."""

class PermitError(HoldpointError):
    """A permit that does not verify: bad signature, expired, or for another call."""

class Diagnostic:
    """One finding of the checker."""

    code: str
    severity: str
    message: str
    file: Optional[str]
    line: Optional[int]
    column: Optional[int]
    end_line: Optional[int]
    end_column: Optional[int]
    help: Optional[str]
    rendered: str

class Decision:
    """What the policy decided for one call."""

    @property
    def effect(self) -> str:
        """`allow`, `audit`, `approve` or `deny`."""
    @property
    def runs(self) -> bool:
        """Whether the call may run now (`allow` or `audit`)."""
    @property
    def rules(self) -> list[str]:
        """The rules that decided it."""
    @property
    def mode(self) -> Optional[str]:
        """For `approve`: `sync` or `async`."""
    @property
    def gates(self) -> list[dict[str, Any]]:
        """For `approve`: each gate (`rule`, `mode`, `by`, `quorum`, `within_s`,
        `on_timeout`, `decisions`, `show_diff`, `confirm_by_requester`, `reason`)."""
    @property
    def reasons(self) -> list[dict[str, str]]:
        """The deciding rules' reasons (`rule`, `reason`)."""
    @property
    def unknown(self) -> list[dict[str, Any]]:
        """Conditions the policy could not judge."""
    def to_dict(self) -> dict[str, Any]:
        """The whole decision, as `policy eval` prints it."""
    def to_json(self) -> str:
        """The whole decision as JSON text."""

class Policy:
    """A compiled policy: immutable, shareable across threads."""

    @staticmethod
    def load(path: Union[str, PathLike[str]]) -> Policy:
        """Loads a `.gate` file or a policy directory. Raises `PolicyError`."""
    @staticmethod
    def from_source(text: str, catalog: Optional[str] = None) -> Policy:
        """Compiles a policy from its text, optionally with a tool catalog (the YAML text
        of a `tools.yaml`). Raises `PolicyError`."""
    @property
    def name(self) -> Optional[str]:
        """The policy's name, if it has one."""
    def check(self) -> list[Diagnostic]:
        """The checker's warnings on this policy."""
    def evaluate(self, call: Call) -> Decision:
        """Decides one call. Raises `CallError` for something that is not a tool call."""
    def evaluate_many(self, calls: Iterable[Call]) -> list[Decision]:
        """Decides many calls with the interpreter's lock released."""

def verify_permit(public_key: str, permit: str, tool: str, args: Any) -> dict[str, Any]:
    """Checks a permit against the call about to run; its claims, or `PermitError`."""
