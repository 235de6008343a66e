"""Live capture: platform webhooks received by ``smcase serve`` and accounts polled by ``smcase capture``."""
