"""The `konbini audit` commands."""
