"""What `pjobs serve --http` serves: the monitoring alert receiver, `/metrics`, and the
health checks."""
