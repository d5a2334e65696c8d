"""Tuopin monitoring service."""
