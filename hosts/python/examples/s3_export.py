#!/usr/bin/env python3
"""Detect AWS CLI reconnaissance in CloudTrail's S3 exports as they land.

CloudTrail writes its logs to S3 as gzipped ``{"Records":[...]}`` files
(``AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/*.json.gz``).
This script reads them in key order, one detector across all of them, and
prints alerts (the NDJSON lines ``recon detect`` prints) as their windows
close. Between runs (and after every file) the detector is saved with
`Detector.snapshot` to a state file, and restored from it with
`Detector.restore`, so windows open at the end of one file or run carry
over to the next: a burst split across two files is still one burst.

Two sources:

- ``--dir DIR``: a local directory; every ``*.json.gz`` below it, in order
  of their relative paths (try it offline, or on an ``aws s3 sync`` copy);
- ``--bucket NAME [--prefix P]``: S3 itself, through boto3 (an optional
  dependency: ``pip install boto3``), listing keys after the last one done.

Run once (``--once``: process what is there and stop; windows stay open in
the state file for the next run), or poll every ``--poll`` seconds.
``--finish`` ends the stream at the end (closes every window, prints their
alerts, removes the state file).

CloudTrail delivers a file within about 15 minutes of its events, and files
of different regions interleave, so events arrive later than in a single
stream: ``--allowed-lateness`` defaults to 900 seconds here (the rules'
own default is 60).

Examples::

    python s3_export.py --dir ./cloudtrail-copy --state recon.state --once
    python s3_export.py --bucket my-trail --prefix AWSLogs/123456789012/CloudTrail/ \\
        --state recon.state --poll 60
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Iterator

from recon_detector import Detector, detect_file
from recon_detector.settings import FileSettings, load_settings

STATE_VERSION = 1


# -- state ------------------------------------------------------------------


def load_state(path: Path | None) -> tuple[bytes | None, str | None]:
    """The saved snapshot and the last key processed, if any."""
    if path is None or not path.exists():
        return None, None
    state = json.loads(path.read_text())
    if state.get("version") != STATE_VERSION:
        raise SystemExit(f"{path}: not a state file of this script (version {state.get('version')!r})")
    return base64.b64decode(state["snapshot"]), state.get("last_key")


def save_state(path: Path, snapshot: bytes, last_key: str | None) -> None:
    """Writes the state atomically (beside it, then renamed)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(
        json.dumps(
            {"version": STATE_VERSION, "last_key": last_key, "snapshot": base64.b64encode(snapshot).decode()}
        )
    )
    os.replace(tmp, path)


# -- sources ----------------------------------------------------------------


def local_objects(root: Path, after: str | None) -> Iterator[tuple[str, bytes]]:
    """``*.json.gz`` files below ``root`` (digests left out) whose relative
    path sorts after ``after``, in order, with their bytes."""
    keys = sorted(
        key
        for key in (p.relative_to(root).as_posix() for p in root.rglob("*.json.gz") if p.is_file())
        if "CloudTrail-Digest/" not in key
    )
    for key in keys:
        if after is None or key > after:
            yield key, (root / key).read_bytes()


def s3_objects(bucket: str, prefix: str, after: str | None) -> Iterator[tuple[str, bytes]]:
    """CloudTrail log objects (digests left out) under ``prefix`` whose key
    sorts after ``after``, in key order, with their bytes."""
    try:
        import boto3  # type: ignore[import-not-found]
    except ImportError:
        raise SystemExit("--bucket needs boto3: pip install boto3") from None
    s3 = boto3.client("s3")
    kwargs = {"Bucket": bucket, "Prefix": prefix}
    if after:
        kwargs["StartAfter"] = after
    for page in s3.get_paginator("list_objects_v2").paginate(**kwargs):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if not key.endswith(".json.gz") or "/CloudTrail-Digest/" in key:
                continue
            yield key, s3.get_object(Bucket=bucket, Key=key)["Body"].read()


# -- the run ----------------------------------------------------------------


def process(detector: Detector, objects: Iterator[tuple[str, bytes]], state: Path | None, last: str | None) -> str | None:
    """Pushes every object through the detector, printing alerts as they
    become final and saving the state after each object."""
    for key, body in objects:
        # An S3 export is one JSON document, often on one line and larger
        # than a record may be, gzipped: the component's reader splits it.
        alerts = detect_file(io.BytesIO(body), detector=detector, finish=False)
        for alert in alerts:
            print(alert.to_json(), flush=True)
        last = key
        if state is not None:
            save_state(state, detector.snapshot(), last)
        print(f"s3_export: {key}: done", file=sys.stderr)
    return last


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--dir", type=Path, help="a local directory of *.json.gz CloudTrail files")
    src.add_argument("--bucket", help="an S3 bucket (needs boto3)")
    p.add_argument("--prefix", default="", help="key prefix in the bucket, e.g. AWSLogs/<account>/CloudTrail/")
    p.add_argument("--state", type=Path, help="state file: the detector and the last key done, kept between runs")
    p.add_argument("--config", help="the recon TOML configuration file")
    p.add_argument(
        "--allowed-lateness", type=int, metavar="SECONDS", help="default: the config file's, else 900 (S3 delivery lag)"
    )
    p.add_argument("--once", action="store_true", help="process what is there, then stop")
    p.add_argument("--poll", type=float, default=60.0, metavar="SECONDS", help="seconds between listings (default 60)")
    p.add_argument("--finish", action="store_true", help="at the end, close every window and remove the state file")
    args = p.parse_args(argv)

    snapshot, last = load_state(args.state)
    if snapshot is not None:
        detector = Detector.restore(snapshot)
        print(f"s3_export: resumed from {args.state} after {last}", file=sys.stderr)
    else:
        settings = load_settings(args.config) if args.config else FileSettings()
        if args.allowed_lateness is not None:
            settings.allowed_lateness_seconds = args.allowed_lateness
        elif settings.allowed_lateness_seconds is None:
            settings.allowed_lateness_seconds = 900
        detector = Detector(settings.config(), sandbox=settings.sandbox_bounds())

    def listing() -> Iterator[tuple[str, bytes]]:
        if args.dir is not None:
            return local_objects(args.dir, last)
        return s3_objects(args.bucket, args.prefix, last)

    try:
        while True:
            last = process(detector, listing(), args.state, last)
            if args.once or args.finish:
                break
            time.sleep(args.poll)
    except KeyboardInterrupt:
        print("s3_export: stopped; the state file holds everything done", file=sys.stderr)
        return 130
    if args.finish:
        detector.flush()
        for alert in detector.drain():
            print(alert.to_json(), flush=True)
        if args.state is not None and args.state.exists():
            args.state.unlink()
    stats = detector.stats()
    print(f"s3_export: {stats.pushed} records, {stats.rejected} rejected, {stats.pending_alerts} alerts pending", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
