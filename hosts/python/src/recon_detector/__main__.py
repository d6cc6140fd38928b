"""``python -m recon_detector detect FILE...`` (see `recon_detector.cli`)."""

from .cli import main

raise SystemExit(main())
