"""Models come with their issue; the app is installed so migrations and layering hold."""
