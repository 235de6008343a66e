"""Validators of archive packages: rule by rule, against the official schemas."""
