"""`python -m npu_des`: the `npu-des` command line."""

import sys

from npu_des.cli import main

sys.exit(main())
