"""The code-mode runtime: sandboxed executor, bindings to the host MCP sessions."""

from cfmigrate.runtime.codemode import CODE_TOOL, CodeMode, CodeModeError, KeptTool
from cfmigrate.runtime.executor import (
    ExecutionResult,
    Executor,
    ExecutorError,
    Isolation,
    Limits,
    LocalExecutor,
    Protection,
    SandboxSession,
    UnconfinedError,
)
from cfmigrate.runtime.pii import PiiMasker
from cfmigrate.runtime.policy import Approver, Decision, Policy, ToolCall
from cfmigrate.runtime.results import ContentBlock, ToolUseResult

__all__ = [
    "CODE_TOOL",
    "Approver",
    "CodeMode",
    "CodeModeError",
    "ContentBlock",
    "Decision",
    "ExecutionResult",
    "Executor",
    "ExecutorError",
    "Isolation",
    "KeptTool",
    "Limits",
    "LocalExecutor",
    "PiiMasker",
    "Policy",
    "Protection",
    "SandboxSession",
    "ToolCall",
    "ToolUseResult",
    "UnconfinedError",
]
