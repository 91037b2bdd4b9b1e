"""Municipal rules: offerings and fees, suppression, service hours, suspensions, notices, staff."""
