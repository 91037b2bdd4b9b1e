"""Issuance center (証明書交付センター) and the BCL municipal cloud: the gRPC backend."""
