"""User-facing errors: the CLI turns a SnnxError into one line on stderr and exit code 2."""


class SnnxError(Exception):
    """A mistake the user can fix (bad input, missing file, wrong stage order).

    The message must say what was wrong, with which value, and what to do.
    """
