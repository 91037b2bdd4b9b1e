"""Simulated hardware: JPKI card and phone applets, readers, kiosk printer, JPKI authority."""
