"""Adapters to external systems (Rocket.Chat, Redis queue, Socket.IO), each behind a port."""
