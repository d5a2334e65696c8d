"""Tuopin benefits service."""
