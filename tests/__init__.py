"""Test suites; `tests.pki` is the shared test PKI, imported as a package module."""
