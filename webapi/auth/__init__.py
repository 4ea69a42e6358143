"""Login, logout, the own profile and password."""
