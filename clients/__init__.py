"""Clients of the issuance center: kiosk, counter terminal, staff tools and the `konbini` CLI."""
