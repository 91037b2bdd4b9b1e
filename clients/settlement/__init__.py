"""Settlement clients: the monthly close and its statements (`konbini settle`), operator
reports, reconciliation, fiscal-year reports and statistics, over gRPC."""
