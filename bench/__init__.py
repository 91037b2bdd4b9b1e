"""The benchmark harness: `python -m bench` (or `make bench`) writes bench/results.json.

Speed is measured here and written down, never asserted by a test (STYLE 17). Each figure is
taken beside a baseline measured in the same run, so that their ratio holds on a busy machine.
"""
