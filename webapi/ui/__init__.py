"""The browser UI: pages rendered by Flask from templates and assets inside the package."""
