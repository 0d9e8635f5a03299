"""Carteras: portfolio owner routing for an omnichannel contact centre."""
