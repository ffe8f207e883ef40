"""The one exception tree of ckptscope; every failure a user can cause is one of these.

    CkptError                 anything ckptscope reports as a failed analysis
    ├── SettingsError         an analysis setting is invalid or cannot be honoured here
    │   └── OverrideError         a what-if override is malformed, matches nothing, or asks
    │                             a checkpoint policy for what no policy can do
    ├── SnippetError          the uploaded snippet is at fault
    │   ├── SnippetSyntaxError    it does not parse (line and column given)
    │   ├── SnippetContractError  `model` / `example_inputs` / `loss` missing or of the wrong kind,
    │   │                         nothing requires grad, or it calls torch.compile or sets
    │   │                         torch configs
    │   └── SnippetRuntimeError   the snippet's own code raised (its traceback lines kept)
    ├── CompileError          torch.compile failed (torch's message kept verbatim)
    │   ├── GraphBreakError       a graph break with `fullgraph=True`
    │   └── TorchInternalError    torch raised from its own frames (partitioner, aot_autograd's
    │                             runtime wrappers, inductor): the message names the torch frame
    │                             and keeps torch's first line; the rest is in `details`
    ├── DiffInputError        an input to a diff is not a usable analysis document
    ├── SandboxError          the isolated worker could not run or return the job
    └── AnalysisError         the captured graphs are inconsistent (a ckptscope bug, never
                              the user's)

Each error carries a stable `code`, a human `message` and, where there is one, the snippet `line`;
`details` keeps long text (torch's whole message) out of the headline. `to_dict()` is the
`{"type", "code", "message", "line"}` document (plus `details` when there are some) the CLI and
the server emit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict


class ErrorDoc(TypedDict):
    """A failure as JSON, the same in the CLI, the worker, the store and the API."""

    type: str  #: the `CkptError` subclass' name
    code: str  #: stable, e.g. `snippet_syntax_error`, `sandbox_error`
    message: str
    line: int | None  #: the snippet line, where there is one
    details: NotRequired[str]  #: long text kept out of `message` (torch's whole message)


class CkptError(Exception):
    """Base of every error ckptscope reports."""

    code = "ckpt_error"

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None,
                 details: str | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.details = details

    def to_dict(self) -> ErrorDoc:
        out: ErrorDoc = {
            "type": type(self).__name__,
            "code": self.code,
            "message": self.message,
            "line": self.line,
        }
        if self.details is not None:
            out["details"] = self.details
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CkptError:
        """Rebuild an error sent across a process boundary as JSON."""
        by_name = {c.__name__: c for c in _all_subclasses(CkptError)}
        by_name["CkptError"] = CkptError
        kind = by_name.get(str(data.get("type")), CkptError)
        line = data.get("line")
        details = data.get("details")
        return kind(str(data.get("message", "")), line=line if isinstance(line, int) else None,
                    details=details if isinstance(details, str) else None)


def _all_subclasses(cls: type[CkptError]) -> list[type[CkptError]]:
    out: list[type[CkptError]] = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


class SettingsError(CkptError):
    code = "invalid_settings"


class OverrideError(SettingsError):
    code = "invalid_override"


class SnippetError(CkptError):
    code = "bad_snippet"


class SnippetSyntaxError(SnippetError):
    code = "snippet_syntax_error"


class SnippetContractError(SnippetError):
    code = "snippet_contract"


class SnippetRuntimeError(SnippetError):
    code = "snippet_raised"


class CompileError(CkptError):
    code = "compile_error"


class GraphBreakError(CompileError):
    code = "graph_break"


class TorchInternalError(CompileError):
    """torch failed in its own code while compiling or running the snippet: not the snippet's
    fault. `message` names the torch frame and keeps torch's first line (at most
    `MESSAGE_CHARS`); `details` has torch's whole message."""

    code = "torch_internal_error"
    MESSAGE_CHARS = 600


class DiffInputError(CkptError):
    """An input of the diff is not a usable analysis document (an error document, another
    schema version, missing fields)."""

    code = "bad_diff_input"


class SandboxError(CkptError):
    code = "sandbox_error"


class AnalysisError(CkptError):
    code = "analysis_error"
