"""Tables of the runs package."""
