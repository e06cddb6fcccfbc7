"""The single error type of the converter: a one-line, user-facing message."""


class ConvertError(Exception):
    """Raised for any input the converter refuses or cannot handle.

    The message is meant to be printed as-is on one line (the CLI prints no traceback for it).
    """
