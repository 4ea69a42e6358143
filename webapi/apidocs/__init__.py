"""The interactive API documentation, served from installed packages (no CDN)."""
