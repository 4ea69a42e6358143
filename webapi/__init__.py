"""Web UI and REST API: the Flask application factory and its blueprints."""
