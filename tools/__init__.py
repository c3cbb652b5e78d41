"""Build and test tools for the book (run from the repository root)."""
