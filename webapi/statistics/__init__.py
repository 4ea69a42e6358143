"""Communication statistics through the REST API."""
