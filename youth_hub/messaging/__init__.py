"""Messaging: the outbox, email rendering and sending, reminder planning, scheduler jobs.

Other domains use only what is exported here.
"""

from youth_hub.messaging.outbox import KINDS, enqueue_message

__all__ = ["KINDS", "enqueue_message"]
