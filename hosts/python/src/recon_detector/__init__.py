"""recon_detector: the Python host of recon.

Streaming detection of AWS CLI reconnaissance in CloudTrail (Microsoft
Sentinel's and Elastic's published rules), with the detection logic in a
WebAssembly component that imports nothing, run by wasmtime in a sandbox:

>>> from recon_detector import Detector, Config, detect_file
>>> for alert in detect_file("trail.jsonl.gz"):          # doctest: +SKIP
...     print(alert.to_json())   # the line `recon detect` prints

See docs/hosts/python.md in the repository.
"""

from ._runtime import component_info, default_cache_dir, set_cache_dir
from ._types import (
    DEFAULT_MAX_EVENT_BYTES,
    BatchError,
    BatchResult,
    Config,
    Limits,
    Outcome,
    Profile,
    RejectReason,
    Rule,
    RuleConfig,
    RuleCounts,
    RuleStats,
    Sandbox,
    Stats,
)
from .alert import Alert, Entity, format_time
from .detect import detect, detect_file
from .detector import Detector
from .errors import (
    ComponentLoadError,
    ComponentTrap,
    ConfigError,
    DetectorClosed,
    EventError,
    InputError,
    ReconError,
    SnapshotError,
)
from .input import Chunk, Loc, TooLarge, read_chunks

__version__ = "0.2.0"

__all__ = [
    "Alert",
    "BatchError",
    "BatchResult",
    "Chunk",
    "ComponentLoadError",
    "ComponentTrap",
    "Config",
    "ConfigError",
    "DEFAULT_MAX_EVENT_BYTES",
    "Detector",
    "DetectorClosed",
    "Entity",
    "EventError",
    "InputError",
    "Limits",
    "Loc",
    "Outcome",
    "Profile",
    "ReconError",
    "RejectReason",
    "Rule",
    "RuleConfig",
    "RuleCounts",
    "RuleStats",
    "Sandbox",
    "SnapshotError",
    "Stats",
    "TooLarge",
    "component_info",
    "default_cache_dir",
    "set_cache_dir",
    "detect",
    "detect_file",
    "format_time",
    "read_chunks",
    "__version__",
]
