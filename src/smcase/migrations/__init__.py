"""Alembic migrations of the register schema (run by ``smcase init`` and ``smcase db upgrade``)."""
