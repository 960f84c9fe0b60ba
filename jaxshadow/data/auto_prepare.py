"""Sets larger than `data.max_in_memory_gb` are prepared once and streamed from their shards.

`prepared_copy` keys a prepared copy by the source string, the data options that shape its
examples and the listing of its files (path, size, modification time), so a changed file or
option makes a new copy and an unchanged set is prepared only once. Copies live under
`data.prepared_dir` (default `$XDG_CACHE_HOME/jaxshadow/prepared`, else
`~/.cache/jaxshadow/prepared`). Processes on one host that open the same set wait on a file lock
while the first one prepares it.
"""

import fcntl
import hashlib
import json
import os
import sys
from pathlib import Path

from jaxshadow.data.prepared_format import INDEX
from jaxshadow.data.prepared_source import PreparedSource

# The data options that change which examples a source yields or their contents.
EXAMPLE_OPTIONS = ("load_size", "skip_bad_examples", "mask_dir", "test_fraction", "photo_size",
                   "photo_scales")


def cache_root(data_config):
    if data_config.prepared_dir:
        return Path(data_config.prepared_dir)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jaxshadow" / "prepared"


def fingerprint(spec, data_config, files):
    """A short hex key of (source string, example options, file listing)."""
    listing = []
    for path in sorted(map(str, files)):
        try:
            stat = os.stat(path)
            listing.append((path, stat.st_size, stat.st_mtime_ns))
        except OSError:
            listing.append((path, None, None))
    options = {k: data_config[k] for k in EXAMPLE_OPTIONS}
    text = json.dumps({"source": spec, "options": options, "files": listing}, default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def prepared_copy(spec, data_config, files, decoded_bytes, make_stream, stream=None):
    """The PreparedSource of `spec`, preparing it first (from `make_stream()`) if needed;
    messages go to `stream` (default: the current `sys.stderr`)."""
    from jaxshadow.data.prepare import prepare

    stream = stream or sys.stderr
    root = cache_root(data_config)
    name = spec.partition(":")[0]
    directory = root / f"{name}-{fingerprint(spec, data_config, files)}"
    print(f"data: {spec} is about {decoded_bytes / 2**30:.1f} GB decoded, over "
          f"data.max_in_memory_gb={data_config.max_in_memory_gb}; streaming it from prepared "
          f"shards in {directory}", file=stream, flush=True)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{directory.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (directory / INDEX).exists():
            prepare(make_stream(), directory, source_spec=spec,
                    data_options=data_config.to_dict(),
                    progress=lambda line: print(f"data: {line}", file=stream, flush=True))
    return PreparedSource(directory, verify_checksums=data_config.verify_checksums)
