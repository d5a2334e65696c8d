"""Tuopin registry service."""
