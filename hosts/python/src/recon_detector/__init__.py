"""recon_detector: the Python host of recon.

Streaming detection of AWS CLI reconnaissance in CloudTrail (the
component's built-in rules, after Microsoft Sentinel's and Elastic's, and
rules as data: Sigma rule files the component compiles), with the
detection logic in a WebAssembly component that imports nothing, run by
wasmtime in a sandbox:

>>> from recon_detector import Detector, Config, detect_file
>>> for alert in detect_file("trail.jsonl.gz"):          # doctest: +SKIP
...     print(alert.to_json())   # the line `recon detect` prints

Reading CloudTrail as it is delivered (layouts, gzip, limits) and
formatting alerts are the component's: every host reads and writes alike.

See docs/hosts/python.md in the repository.
"""

from ._runtime import component_info, default_cache_dir, set_cache_dir
from ._types import (
    BatchError,
    BatchResult,
    Config,
    InputVerdict,
    Limits,
    Outcome,
    Profile,
    ReadReport,
    ReadResult,
    BuiltInRule,
    RejectReason,
    Rule,
    RuleConfig,
    RuleCounts,
    RuleFile,
    RuleInfo,
    RuleKind,
    RuleStats,
    Sandbox,
    Stats,
)
from .alert import Alert, AlertFormat, Entity
from .detect import detect, detect_file
from .detector import Detector, Input
from .errors import (
    ComponentLoadError,
    ComponentTrap,
    ConfigError,
    DetectorClosed,
    EventError,
    InputError,
    ReconError,
    RuleError,
    SnapshotError,
)
from .rules import CATALOGUE, ResolvedRules, builtin_rules, list_rules, resolve_rules
from .source import read_input

__version__ = "0.6.0"

__all__ = [
    "Alert",
    "AlertFormat",
    "BatchError",
    "BatchResult",
    "BuiltInRule",
    "CATALOGUE",
    "ComponentLoadError",
    "ComponentTrap",
    "Config",
    "ConfigError",
    "Detector",
    "DetectorClosed",
    "Entity",
    "EventError",
    "Input",
    "InputError",
    "InputVerdict",
    "Limits",
    "Outcome",
    "Profile",
    "ReadReport",
    "ReadResult",
    "ReconError",
    "RejectReason",
    "ResolvedRules",
    "Rule",
    "RuleConfig",
    "RuleCounts",
    "RuleError",
    "RuleFile",
    "RuleInfo",
    "RuleKind",
    "RuleStats",
    "Sandbox",
    "SnapshotError",
    "Stats",
    "builtin_rules",
    "component_info",
    "default_cache_dir",
    "set_cache_dir",
    "detect",
    "detect_file",
    "list_rules",
    "read_input",
    "resolve_rules",
    "__version__",
]
