"""Opening the converter's inputs safely (the C++ side's core/regular_file.hpp, in Python).

A FIFO given as checkpoint, config or merges file would block ``open()`` forever, and a device
such as /dev/zero would be read until memory runs out. ``open_regular`` opens without blocking,
refuses anything that is not a regular file (checked on the opened descriptor), and names the
operating system's reason when the open fails; ``read_capped`` reads a whole small file up to a
stated limit.
"""
import errno
import os
import stat

from .errors import ConvertError

_KINDS = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO / named pipe"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket")]


def open_regular(path, what):
    """A binary file object for ``path``, which must be a regular file; else ConvertError."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.ELOOP:
            reason += " (a symbolic link loop, or a chain of more than 40 links)"
        raise ConvertError(f"{what} {path}: cannot read: {reason}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a plain file")
            raise ConvertError(f"{what} {path}: is not a regular file (it is {kind})")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def check_regular(path, what):
    """Fails unless ``path`` is a readable regular file (for readers that open it themselves)."""
    open_regular(path, what).close()


def read_capped(path, what, max_bytes):
    """The whole file as bytes; refuses files over ``max_bytes`` (checked on what is read)."""
    with open_regular(path, what) as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ConvertError(f"{what} {path}: larger than the limit of {max_bytes} bytes")
    return data
