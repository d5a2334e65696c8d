"""Exports of the register: persons and households as NDJSON, CSV or XLSX streams."""
