"""E-review (電子審査): checking applications against a municipality's resident data.

`normalize` (Japanese normalisation), `index` (blocking), `matcher` (scoring and outcomes), `batch`,
`suggestions` (procedures that fit a household), `residents_csv` (the residents file the batch
mode and the benchmark read), `evaluation` (a labelled evaluation set), `access` (e-review
clients and their municipalities), `autofill` (JPKI-authenticated pre-filling), `service` and
`servicer` (the gRPC face). See docs/ereview.md.
"""
