"""Codemod rules, one module per rule."""
