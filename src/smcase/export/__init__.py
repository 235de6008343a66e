"""Archive exports: streaming writers that validate against the official schemas before they report done."""
