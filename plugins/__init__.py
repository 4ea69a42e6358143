"""Built-in and bundled plugins, registered through the same entry points as third-party ones."""
