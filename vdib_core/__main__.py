"""`python -m vdib_core`: the experiments' command line (see `vdib_core.experiments.cli`)."""
import os
import sys

os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")  # before torch allocates: huge pages for big CPU buffers

from .experiments.cli import main  # noqa: E402

sys.exit(main())
