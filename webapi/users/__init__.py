"""Named users as a REST resource, with password reset and unlock."""
