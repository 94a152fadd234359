from __future__ import annotations

import sys

from raftcron.cli import main

sys.exit(main())
