"""Background jobs (RQ entry points); the edges enqueue through jobs.enqueue only."""
