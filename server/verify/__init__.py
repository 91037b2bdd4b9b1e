"""Verifying printed copies: the signed seal payload in each copy's QR code, and its checks."""
