"""pjobs: the operations toolkit of a multi-tenant platform, as jobs on a durable queue."""

__version__ = "0.1.0"
