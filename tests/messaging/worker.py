"""A scheduler process with a short lease, for the kill test:
`python -m tests.messaging.worker <lease seconds>` (configured from the environment, like
`youth-hub scheduler`, whose lease is the production five minutes)."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from youth_hub.messaging.scheduler import run_scheduler_forever
from youth_hub.settings import Settings

if __name__ == "__main__":
    lease = timedelta(seconds=float(sys.argv[1]))
    asyncio.run(run_scheduler_forever(Settings.from_env(), lease=lease))
