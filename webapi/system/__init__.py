"""System information resource: version, license and plugins."""
