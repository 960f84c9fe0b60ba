"""Writing a file so that no reader ever sees half of it: `atomic_write(path, data)`."""

import contextlib
import io
import os
import tempfile

from jaxshadow.errors import UserError


def atomic_write(path, data):
    """Writes `data` (bytes or str) to `path` through a temporary file in the same folder,
    flushed to disk and then renamed over `path`.

    The file gets the permissions a plain `open(path, "w")` would give (0o666 less the umask;
    the temporary file starts as 0o600). On any failure `path` keeps its old content and no
    temporary file is left; an OSError becomes a UserError naming `path`.
    """
    path = os.fspath(path)
    payload = data.encode() if isinstance(data, str) else data
    try:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)),
                                   prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror}") from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise UserError(f"cannot write {path}: {e.strerror}") from e
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def png_bytes(image):
    """A PIL image as PNG file bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
