"""Manifests to a typed servers/ package."""
