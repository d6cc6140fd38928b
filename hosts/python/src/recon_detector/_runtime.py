"""Loading the detector component and calling it through wasmtime's
component API (``wasmtime.component``), inside a sandbox.

- The component is found once per process (`component_source`), checked
  (a component, importing nothing, exporting the interface this host is
  written for) and compiled once per engine configuration.
- Each `Instance` has a store and a component instance of its own, with
  the store's memory cap, an epoch deadline per call (one ticker thread
  advances the engine's epoch every 10 ms while calls run) and optionally
  fuel per call.
- Values cross the boundary through wasmtime's generic value conversion,
  except ``list<u8>`` (NDJSON buffers and input bytes in, snapshots in and
  out): that conversion goes element by element in Python (about a second
  per MiB), so this module writes and reads those lists directly in the C
  API's value array through wasmtime's own ctypes declarations. Even so,
  wasmtime's C API then lowers the list one generic value per byte; input
  that is valid UTF-8 crosses as a ``string`` instead (``read-step.text``,
  one copy), and other input (gzip) as its base64 text
  (``read-step.base64``), see `detector.Input.feed`. The layout it
  relies on is checked against wasmtime's generic conversion when the
  runtime starts; if the check fails (or wasmtime's private modules are
  not where they were), calls go through wasmtime's public
  ``Func.__call__`` instead (slow, correct) and a warning says so.
  ``RECON_DETECTOR_GENERIC_VALUES=1`` forces that path.
"""

from __future__ import annotations

import ctypes
import hashlib
import math
import os
import re
import subprocess
import threading
import time
import warnings
from ctypes import byref, pointer
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import wasmtime
from wasmtime import component as wc
from wasmtime.component import Variant

try:  # wasmtime's own ctypes declarations of the C API (private modules)
    import wasmtime._ffi as ffi
    from wasmtime.component._enter import enter_wasm
except ImportError:  # pragma: no cover - another wasmtime layout
    ffi = None  # type: ignore[assignment]
    enter_wasm = None  # type: ignore[assignment]

from ._types import Sandbox
from .errors import ComponentLoadError, ComponentTrap, DetectorClosed, TrapKind

__all__ = [
    "ComponentSource",
    "component_source",
    "component_info",
    "default_cache_dir",
    "set_cache_dir",
    "Runtime",
    "Instance",
    "INTERFACE",
    "call_shared",
]

#: The interface this host is written against (wit/detector.wit).
INTERFACE = "recon:detector/detection@0.6.0"
#: The bundled component's file name inside the package.
BUNDLED_NAME = "recon_detector.wasm"
#: "\0asm", version 0x0d, layer 1: a component.
COMPONENT_HEADER = b"\x00asm\x0d\x00\x01\x00"
#: Set to 1, this variable makes every call take wasmtime's public,
#: generic path (tests compare it with the direct one).
GENERIC_ENV = "RECON_DETECTOR_GENERIC_VALUES"
#: Resolution of the call deadline: the epoch ticks this often while a
#: call runs.
EPOCH_TICK = 0.010

#: The functions this host calls, by export name.
FUNCTIONS = (
    "[static]detector.create",
    "[static]detector.restore",
    "[method]detector.push",
    "[method]detector.push-batch",
    "[method]detector.push-ndjson",
    "[method]detector.flush",
    "[method]detector.drain",
    "[method]detector.stats",
    "[method]detector.snapshot",
    "[method]detector.read",
    "[static]reader.create",
    "format-alert",
    "default-config",
    "list-rules",
    "default-reader-options",
)


# ---------------------------------------------------------------------------
# Finding the component.


@dataclass(frozen=True)
class ComponentSource:
    """The component's bytes and where they came from."""

    data: bytes
    #: A file path, or ``<binary> component``.
    origin: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _repo_binary() -> Path | None:
    """``<repo>/target/release/recon`` when this package runs from its
    source checkout (an editable install, or ``src/`` on the path)."""
    here = Path(__file__).resolve()
    package_root = here.parents[2]  # hosts/python
    repo = here.parents[4]
    if not (package_root / "pyproject.toml").is_file() or not (repo / "wit" / "detector.wit").is_file():
        return None
    binary = Path(os.environ.get("RECON_BIN") or repo / "target" / "release" / "recon")
    return binary if binary.is_file() else None


def _find_component() -> ComponentSource:
    explicit = os.environ.get("RECON_COMPONENT")
    if explicit:
        path = Path(explicit)
        try:
            return ComponentSource(path.read_bytes(), str(path.resolve()))
        except OSError as e:
            raise ComponentLoadError(f"RECON_COMPONENT={explicit}: {e.strerror or e}") from None
    bundled = resources.files(__package__).joinpath(BUNDLED_NAME)
    if bundled.is_file():
        return ComponentSource(bundled.read_bytes(), str(bundled))
    binary = _repo_binary()
    if binary is not None:
        try:
            done = subprocess.run(
                [str(binary), "component"], check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except (OSError, subprocess.CalledProcessError) as e:
            raise ComponentLoadError(f"{binary} component failed: {e}") from None
        return ComponentSource(done.stdout, f"{binary} component")
    raise ComponentLoadError(
        "the detector component was not found: set RECON_COMPONENT to a component file "
        "(recon component -o FILE), or reinstall the package after `cargo build --release` "
        "so that it bundles one"
    )


_source_lock = threading.Lock()
_source: ComponentSource | None = None


def component_source() -> ComponentSource:
    """The component this process uses, found on first use: the file
    ``$RECON_COMPONENT``, else the one bundled in the package, else (in a
    source checkout) the one ``<repo>/target/release/recon`` embeds."""
    global _source
    with _source_lock:
        if _source is None:
            src = _find_component()
            if not src.data.startswith(COMPONENT_HEADER):
                kind = "a core WebAssembly module" if src.data.startswith(b"\x00asm") else "not WebAssembly"
                raise ComponentLoadError(f"{src.origin} is {kind}, not a component")
            _source = src
        return _source


def component_info() -> dict[str, Any]:
    """Where the component came from, its size and SHA-256, and the
    wasmtime version running it."""
    src = component_source()
    return {
        "origin": src.origin,
        "bytes": len(src.data),
        "sha256": src.sha256,
        "interface": INTERFACE,
        "wasmtime": getattr(wasmtime, "__version__", None) or _wasmtime_version(),
    }


def _wasmtime_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("wasmtime")
    except Exception:  # pragma: no cover - metadata missing
        return None


# ---------------------------------------------------------------------------
# list<u8> through the C API's value array.

def _layout() -> tuple[Any, int, int, int, int, int] | None:
    """The C API's value struct and the offsets the direct path writes, or
    None when this wasmtime does not declare them as expected (a one-byte
    kind tag, a one-byte ``u8`` in the value union)."""
    try:
        val: Any = ffi.wasmtime_component_val_t
        union: Any = ffi.wasmtime_component_valunion
        kind, of, u8 = val.kind, val.of, union.u8  # ctypes field descriptors
        if kind.size != 1 or u8.size != 1:
            return None
        return (
            val,
            ctypes.sizeof(val),
            kind.offset,
            of.offset + u8.offset,
            int(ffi.WASMTIME_COMPONENT_U8.value),
            int(ffi.WASMTIME_COMPONENT_LIST.value),
        )
    except Exception:  # pragma: no cover - another wasmtime layout
        return None


_LAYOUT = _layout() if ffi is not None and enter_wasm is not None else None
if _LAYOUT is not None:
    _VAL, _VAL_SIZE, _KIND_OFFSET, _U8_OFFSET, _U8_KIND, _LIST_KIND = _LAYOUT


def _address(pointer_value: Any) -> int:
    address = ctypes.cast(pointer_value, ctypes.c_void_p).value
    if address is None:
        raise MemoryError("wasmtime returned a null value array")
    return int(address)


def _fast_lower_bytes(data: bytes, ptr: "ctypes._Pointer[Any]") -> None:
    """Writes ``data`` as a ``list<u8>`` value into ``*ptr``: a value array
    of ``len(data)`` entries, each kind U8, written with two strided copies
    instead of a Python call per byte."""
    n = len(data)
    raw = ffi.wasmtime_component_vallist_t()
    ffi.wasmtime_component_vallist_new_uninit(raw, n)
    if n:
        address = _address(raw.data)
        view = memoryview((ctypes.c_ubyte * (n * _VAL_SIZE)).from_address(address)).cast("B")
        view[_KIND_OFFSET::_VAL_SIZE] = bytes((_U8_KIND,)) * n
        view[_U8_OFFSET::_VAL_SIZE] = data
    ptr.contents.kind = ffi.WASMTIME_COMPONENT_LIST
    ptr.contents.of.list = raw


def _fast_lower_step(data: bytes, ptr: "ctypes._Pointer[Any]") -> None:
    """Writes ``data`` as the ``bytes`` case of ``read-step`` into
    ``*ptr``, its payload by `_fast_lower_bytes` (what wasmtime's variant
    conversion does, with the payload written directly)."""
    payload = _VAL()
    _fast_lower_bytes(data, pointer(payload))
    ptr.contents.kind = ffi.WASMTIME_COMPONENT_VARIANT
    ptr.contents.of.variant.discriminant = ffi.str_to_capi("bytes")
    ptr.contents.of.variant.val = ffi.wasmtime_component_val_new(byref(payload))


def _fast_lower_text_step(data: bytes, ptr: "ctypes._Pointer[Any]", case: str = "text") -> None:
    """Writes UTF-8 ``data`` as the ``text`` case of ``read-step`` (or
    another string case, ``base64``) into ``*ptr``: the string value made
    from the bytes in one copy."""
    payload = _VAL()
    vec = ffi.wasm_byte_vec_t()
    ffi.wasm_byte_vec_new(byref(vec), len(data), ctypes.cast(ctypes.c_char_p(data), ctypes.POINTER(ctypes.c_uint8)))
    payload.kind = ffi.WASMTIME_COMPONENT_STRING
    payload.of.string = vec
    ptr.contents.kind = ffi.WASMTIME_COMPONENT_VARIANT
    ptr.contents.of.variant.discriminant = ffi.str_to_capi(case)
    ptr.contents.of.variant.val = ffi.wasmtime_component_val_new(byref(payload))


def _generic_step(a: Any) -> Any:
    """A step marker as wasmtime's generic conversion takes it."""
    if isinstance(a, BytesStep):
        return Variant("bytes", bytes(a))
    if isinstance(a, TextStep):
        return Variant("text", bytes(a).decode("utf-8"))
    if isinstance(a, Base64Step):
        return Variant("base64", bytes(a).decode("ascii"))
    return a


def _fast_lift_bytes(val: Any) -> bytes:
    """Reads a ``list<u8>`` value (and frees its array)."""
    if val.kind != _LIST_KIND:
        raise TypeError("expected a list value")
    n = val.of.list.size
    try:
        if n == 0:
            return b""
        address = _address(val.of.list.data)
        view = memoryview((ctypes.c_ubyte * (n * _VAL_SIZE)).from_address(address)).cast("B")
        kinds = view[_KIND_OFFSET::_VAL_SIZE]
        if kinds.tobytes().strip(bytes((_U8_KIND,))):
            raise TypeError("expected a list of u8")
        return view[_U8_OFFSET::_VAL_SIZE].tobytes()
    finally:
        ffi.wasmtime_component_vallist_delete(byref(val.of.list))


def _fast_bytes_work(byte_list: wc.ListType) -> bool:
    """Whether the direct ``list<u8>`` path gives what wasmtime's generic
    conversion gives, both ways, on this wasmtime."""
    if _LAYOUT is None:
        return False
    sample = bytes(range(256)) + b"\n{}\x00\xff"
    try:
        generic = _VAL()
        byte_list.convert_to_c(None, sample, pointer(generic))  # type: ignore[arg-type]
        fast = _VAL()
        _fast_lower_bytes(sample, pointer(fast))
        try:
            same_in = (
                generic.kind == fast.kind == _LIST_KIND
                and generic.of.list.size == fast.of.list.size == len(sample)
                and all(
                    generic.of.list.data[i].kind == fast.of.list.data[i].kind == _U8_KIND
                    and generic.of.list.data[i].of.u8 == fast.of.list.data[i].of.u8
                    for i in range(len(sample))
                )
            )
            lifted = _fast_lift_bytes(generic)
        finally:
            ffi.wasmtime_component_val_delete(byref(fast))
        again = _VAL()
        byte_list.convert_to_c(None, sample, pointer(again))  # type: ignore[arg-type]
        same_out = byte_list.convert_from_c(again) == sample
        return bool(same_in and same_out and lifted == sample)
    except Exception:
        return False


# ---------------------------------------------------------------------------
# The deadline clock.


class _Ticker:
    """Advances an engine's epoch every `EPOCH_TICK` while at least one call
    runs (ctypes releases the GIL during a call, so this thread runs
    beside it), and sleeps otherwise."""

    def __init__(self, engine: wasmtime.Engine) -> None:
        self._engine = engine
        self._active = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def enter(self) -> None:
        with self._cond:
            self._active += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="recon-epoch", daemon=True)
                self._thread.start()
            self._cond.notify()

    def exit(self) -> None:
        with self._cond:
            self._active -= 1

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._active == 0:
                    self._cond.wait()
            time.sleep(EPOCH_TICK)
            self._engine.increment_epoch()


# ---------------------------------------------------------------------------
# The compiled-code cache.

#: First bytes of a cache file; the digit is the file format version.
CACHE_MAGIC = b"recon-py-cache-1\n"

_cache_lock = threading.Lock()
_cache_dir: Path | None = None
#: Why an existing cache entry was not used, for the command to report.
cache_notes: list[str] = []


def default_cache_dir() -> Path | None:
    """``$RECON_CACHE_DIR``, else ``$XDG_CACHE_HOME/recon``, else
    ``~/.cache/recon`` (the Rust CLI's default: the entries' names differ)."""
    explicit = os.environ.get("RECON_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg) / "recon"
    home = os.environ.get("HOME")
    return Path(home) / ".cache" / "recon" if home else None


def set_cache_dir(path: str | os.PathLike[str] | None) -> None:
    """Keeps the compiled component in ``path`` between processes (``None``:
    no cache, the default for the API; the command uses
    `default_cache_dir`). Compiling takes most of a second, loading the
    cached code a few milliseconds. An entry is used only if its name
    matches this component, this wasmtime and this engine configuration
    and its SHA-256 matches its content; anything else is recompiled and
    rewritten, never run. The directory must be as trusted as the
    program. Applies to components compiled after the call."""
    global _cache_dir
    with _cache_lock:
        _cache_dir = None if path is None else Path(path)


def _cache_name(source: ComponentSource, fuel: bool) -> str:
    version = _wasmtime_version() or "unknown"
    return f"python-{source.sha256[:32]}-wasmtime-{version}-epoch-{'fuel' if fuel else 'nofuel'}.cwasm"


def _compile(engine: wasmtime.Engine, source: ComponentSource, fuel: bool) -> wc.Component:
    """The component compiled for ``engine``, through the cache if one is set."""
    with _cache_lock:
        directory = _cache_dir
    if directory is None:
        return wc.Component(engine, source.data)
    path = directory / _cache_name(source, fuel)
    refused: str | None = None
    try:
        blob = path.read_bytes()
        head = len(CACHE_MAGIC)
        if not blob.startswith(CACHE_MAGIC) or len(blob) < head + 32:
            refused = "not a recon cache file"
        elif hashlib.sha256(blob[head + 32 :]).digest() != blob[head : head + 32]:
            refused = "the cache file's checksum does not match its content"
        else:
            # Written by `_compile` for this component, this wasmtime and
            # this engine configuration (the name says so), and not damaged
            # since (the checksum): the compiled code we wrote.
            return wc.Component.deserialize(engine, blob[head + 32 :])
    except FileNotFoundError:
        pass
    except (OSError, wasmtime.WasmtimeError) as e:
        refused = str(e).splitlines()[0] if str(e) else type(e).__name__
    if refused is not None:
        cache_notes.append(f"the compiled component in the cache was not used ({refused}); recompiled it")
    component = wc.Component(engine, source.data)
    try:
        body = bytes(component.serialize())
        directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(CACHE_MAGIC + hashlib.sha256(body).digest() + body)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
    except (OSError, wasmtime.WasmtimeError):
        pass  # the run goes on uncached
    return component


# ---------------------------------------------------------------------------
# The runtime: an engine and the compiled component.


class Runtime:
    """The compiled component under one engine configuration."""

    def __init__(self, source: ComponentSource, fuel: bool) -> None:
        config = wasmtime.Config()
        config.epoch_interruption = True
        config.consume_fuel = fuel
        self.fuel = fuel
        self.engine = wasmtime.Engine(config)
        try:
            self.component = _compile(self.engine, source, fuel)
        except wasmtime.WasmtimeError as e:
            raise ComponentLoadError(f"compiling the detector component ({source.origin}): {e}") from None
        ty = self.component.type
        imports = list(ty.imports(self.engine))
        if imports:
            raise ComponentLoadError(
                f"{source.origin} imports {', '.join(imports)}; the detector component imports nothing"
            )
        iface = self.component.get_export_index(INTERFACE)
        if iface is None:
            raise ComponentLoadError(f"{source.origin} does not export {INTERFACE}")
        self._indexes = {}
        for name in FUNCTIONS:
            index = self.component.get_export_index(name, iface)
            if index is None:
                raise ComponentLoadError(f"{source.origin} does not export {INTERFACE} {name}")
            self._indexes[name] = index
        self.linker = wc.Linker(self.engine)
        self.ticker = _Ticker(self.engine)
        self.fast_bytes: bool | None = None
        self._lock = threading.Lock()

    def index(self, name: str) -> wc.ExportIndex:
        return self._indexes[name]


_runtimes: dict[bool, Runtime] = {}
_runtimes_lock = threading.Lock()


def runtime(fuel: bool) -> Runtime:
    """The runtime for stores with (or without) fuel metering, compiled on
    first use (about half a second) and shared by every detector."""
    with _runtimes_lock:
        rt = _runtimes.get(fuel)
        if rt is None:
            rt = Runtime(component_source(), fuel)
            _runtimes[fuel] = rt
        return rt


# ---------------------------------------------------------------------------
# One component instance.


class Bytes(bytes):
    """Marks an argument to lower as ``list<u8>`` by the direct path."""


class BytesStep(bytes):
    """Marks an argument to lower as ``read-step.bytes``, its ``list<u8>``
    payload by the direct path."""


class TextStep(bytes):
    """Marks bytes known to be UTF-8 to lower as ``read-step.text``, the
    string written from them in one copy (wasmtime-py's own path decodes,
    encodes and copies twice more)."""


class Base64Step(bytes):
    """Marks base64 text (ASCII bytes, the encoding of input bytes that are
    not UTF-8: gzip) to lower as ``read-step.base64``, a string written in
    one copy: wasmtime's C API lowers a ``list<u8>`` one value per byte,
    which costs more than encoding in C here and decoding in the component."""


@dataclass
class _Func:
    func: wc.Func
    params: list[Any]
    result: Any


class Instance:
    """A store and a component instance of its own, with the sandbox's
    bounds; calls by export name. Not thread-safe (one caller at a time)."""

    def __init__(self, sandbox: Sandbox) -> None:
        _check_sandbox(sandbox)
        self.sandbox = sandbox
        self.runtime = runtime(sandbox.fuel_per_call is not None)
        self.store = wasmtime.Store(self.runtime.engine)
        self.store.set_limits(memory_size=sandbox.max_memory_bytes)
        if sandbox.call_timeout is None:
            self._ticks = 1 << 62
        else:
            self._ticks = max(1, math.ceil(sandbox.call_timeout / EPOCH_TICK))
        self.store.set_epoch_deadline(self._ticks)
        if sandbox.fuel_per_call is not None:
            self.store.set_fuel(sandbox.fuel_per_call)
        try:
            self.instance = self.runtime.linker.instantiate(self.store, self.runtime.component)
        except wasmtime.WasmtimeError as e:
            raise ComponentLoadError(f"instantiating the detector component: {e}") from None
        self._funcs: dict[str, _Func] = {}
        self.dead: str | None = None
        rt = self.runtime
        if rt.fast_bytes is None:
            with rt._lock:
                if rt.fast_bytes is None and os.environ.get(GENERIC_ENV) == "1":
                    rt.fast_bytes = False
                elif rt.fast_bytes is None:
                    ndjson = self._func("[method]detector.push-ndjson")
                    rt.fast_bytes = _fast_bytes_work(ndjson.params[1])
                    if not rt.fast_bytes:
                        warnings.warn(
                            "recon_detector: this wasmtime's value layout is not the one the direct "
                            "list<u8> path expects; using wasmtime's generic conversion (slow)",
                            RuntimeWarning,
                            stacklevel=2,
                        )

    def _func(self, name: str) -> _Func:
        f = self._funcs.get(name)
        if f is None:
            func = self.instance.get_func(self.store, self.runtime.index(name))
            if func is None:  # checked against the component's type already
                raise ComponentLoadError(f"the component instance has no function {name}")
            fty = func.type(self.store)
            f = _Func(func, [t for _, t in fty.params], fty.result)
            self._funcs[name] = f
        return f

    def call(self, name: str, *args: Any, bytes_result: bool = False) -> Any:
        """Calls export ``name``. `Bytes` arguments go as ``list<u8>`` by the
        direct path; with ``bytes_result`` the result is read as ``list<u8>``
        the same way. A trap marks the instance dead and raises
        `ComponentTrap`."""
        if self.dead is not None:
            raise DetectorClosed(self.dead)
        f = self._func(name)
        if len(args) != len(f.params):
            raise TypeError(f"{name} takes {len(f.params)} arguments")
        store = self.store
        if self.sandbox.fuel_per_call is not None:
            store.set_fuel(self.sandbox.fuel_per_call)
        store.set_epoch_deadline(self._ticks)
        ticker = self.runtime.ticker
        timed = self.sandbox.call_timeout is not None
        if timed:
            ticker.enter()
        try:
            if self.runtime.fast_bytes:
                return self._call_direct(f, args, bytes_result)
            # wasmtime's public path: every value converted generically
            # (list<u8> one Python call per byte).
            args = tuple(_generic_step(a) for a in args)
            result = f.func(store, *args)
            f.func.post_return(store)
            return bytes(result) if bytes_result else result
        except wasmtime.WasmtimeError as e:
            kind, detail = _describe_trap(str(e), self.sandbox.max_memory_bytes)
            self.dead = f"the detector trapped earlier (in `{name}`, {kind}): it cannot be used any more"
            raise ComponentTrap(name, kind, detail) from None
        finally:
            if timed:
                ticker.exit()

    def _call_direct(self, f: _Func, args: tuple[Any, ...], bytes_result: bool) -> Any:
        """What ``wasmtime.component.Func.__call__`` does, with `Bytes`
        arguments (and a ``bytes_result``) written (and read) directly in
        the C API's value array."""
        params = (_VAL * len(args))()
        lowered = 0
        try:
            for ty, value in zip(f.params, args):
                if isinstance(value, BytesStep):
                    _fast_lower_step(value, pointer(params[lowered]))
                elif isinstance(value, TextStep):
                    _fast_lower_text_step(value, pointer(params[lowered]))
                elif isinstance(value, Base64Step):
                    _fast_lower_text_step(value, pointer(params[lowered]), "base64")
                elif isinstance(value, Bytes):
                    _fast_lower_bytes(value, pointer(params[lowered]))
                else:
                    ty.convert_to_c(self.store, value, pointer(params[lowered]))
                lowered += 1
            result = _VAL()
            context = self.store._context()
            n_results = 0 if f.result is None else 1

            def run() -> Any:
                return ffi.wasmtime_component_func_call(
                    byref(f.func._func), context, params, lowered, byref(result), n_results
                )

            enter_wasm(run)
            # Releases what the call lent to its results (wasmtime 39
            # refuses the next call without it; 50 does it itself and
            # accepts it).
            enter_wasm(lambda: ffi.wasmtime_component_func_post_return(byref(f.func._func), context))
            if f.result is None:
                return None
            if bytes_result:
                return _fast_lift_bytes(result)
            return f.result.convert_from_c(result)
        finally:
            for i in range(lowered):
                ffi.wasmtime_component_val_delete(byref(params[i]))

    def close(self, reason: str = "the detector is closed") -> None:
        """Marks the instance unusable and lets its store go."""
        if self.dead is None:
            self.dead = reason
        self._funcs.clear()


_shared_lock = threading.Lock()
_shared: Instance | None = None


def call_shared(name: str, *args: Any) -> Any:
    """Calls export ``name`` of one instance this process shares for the
    component's free functions (``format-alert``, the defaults, the rule
    registry), made on
    first use with the default sandbox; one caller at a time."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.dead is not None:
            _shared = Instance(Sandbox())
        return _shared.call(name, *args)


def _check_sandbox(s: Sandbox) -> None:
    from .errors import ConfigError

    def bad(what: str) -> ConfigError:
        return ConfigError("invalid-option", f"sandbox.{what}")

    if not isinstance(s.max_memory_bytes, int) or isinstance(s.max_memory_bytes, bool) or s.max_memory_bytes <= 0:
        raise bad(f"max_memory_bytes must be a positive integer (bytes), not {s.max_memory_bytes!r}")
    t = s.call_timeout
    if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not t > 0 or math.isinf(t)):
        raise bad(f"call_timeout must be a positive number of seconds or None, not {t!r}")
    f = s.fuel_per_call
    if f is not None and (isinstance(f, bool) or not isinstance(f, int) or f <= 0 or f >= 1 << 64):
        raise bad(f"fuel_per_call must be a positive integer or None, not {f!r}")


_FRAME = re.compile(r"^\s*\d+:\s+0x[0-9a-f]+ - (?:[^!]*!)?(.*)$")


def _describe_trap(message: str, memory_cap: int) -> tuple[TrapKind, str]:
    """The trap's kind and a one-line description: wasmtime's cause, the
    innermost guest function, and for a failed allocation the cap."""
    lines = message.splitlines()
    frames = [m.group(1).strip() for m in map(_FRAME.match, lines) if m]
    cause = ""
    for i, line in enumerate(lines):
        if line.strip() == "Caused by:":
            cause = " ".join(x.strip() for x in lines[i + 1 :] if x.strip())
    if not cause:
        cause = next((x.strip() for x in lines if x.strip()), message)
    low = message.lower()
    if "all fuel consumed" in low:
        kind: TrapKind = "fuel"
    elif "wasm trap: interrupt" in low:
        kind = "deadline"
    elif frames and ("cabi_realloc" in frames[0] or any("alloc_error" in f or "oom" in f for f in frames)):
        kind = "memory"
    else:
        kind = "trap"
    detail = cause
    if frames:
        detail += f" in {_demangled(frames[0])}"
    if kind == "memory":
        detail += f": an allocation failed; the sandbox caps this instance's memory at {memory_cap} bytes"
    return kind, detail


def _demangled(name: str) -> str:
    """A Rust symbol without its hash suffix (``::h0123...``)."""
    return re.sub(r"::h[0-9a-f]{16}$", "", name)
