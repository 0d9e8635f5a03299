"""Business rules and use cases. Must not import flask, werkzeug, HTTP clients, queues or edges."""
