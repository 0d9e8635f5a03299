"""Channel webhook receivers: verify, parse and normalize provider payloads."""
