"""The rules of each noun of the platform, called by handlers, the CLI and the listener:
API keys, webhooks and their deliveries, notifications, usage, quotas and abuse, the
secret box that seals signing secrets, and the events a change announces. Records are
stored through `pjobs.control`; jobs are made through `pjobs.queue.enqueue`."""
