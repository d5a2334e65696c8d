"""Tables of the settlement package."""
