"""tre: an open-source trusted research environment with an automated output airlock.

The package holds the platform side: typed settings (:mod:`tre.settings`), the
``tre`` command line (:mod:`tre.cli`) and demo data (:mod:`tre.demo`).  The
disclosure-control engine is the separate, pure package :mod:`statbarn`.
"""

__version__ = "0.1.0"
