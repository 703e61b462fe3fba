"""graves-data: the corpora of Graves (2013) as clean, versioned, sharded Parquet."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("graves-data")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
