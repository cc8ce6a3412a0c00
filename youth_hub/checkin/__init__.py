"""checkin domain."""
