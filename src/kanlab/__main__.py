"""``python -m kanlab`` (and ``torchrun --nproc-per-node N -m kanlab train ...``): the kanlab command."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
