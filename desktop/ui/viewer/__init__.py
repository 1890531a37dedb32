"""The built-in PDF viewer that opens a cited page and finds the cited passage on it."""
