"""The `wildfer` console script: the command line of the Rust binary, run in-process."""

import signal
import sys

from wildfer import _native


def main() -> None:
    # The command handles SIGINT/SIGTERM itself (stopping cleanly where it can); Python's own
    # handler would only set a flag nobody reads while the command runs.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.stdout.flush()
    sys.exit(_native.cli(["wildfer", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
