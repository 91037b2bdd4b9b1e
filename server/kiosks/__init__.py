"""The kiosk registry and kiosk certificates: which machines may talk to the center."""
