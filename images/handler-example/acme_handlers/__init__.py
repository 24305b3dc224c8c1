"""A team's own handlers, installed into an image derived from the platform image."""
