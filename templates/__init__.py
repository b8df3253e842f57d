"""Jinja2 templates, loaded with PackageLoader("cfmigrate.templates", "")."""
