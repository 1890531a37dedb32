"""The model picker in the toolbar: bundled and imported models, fit badge, device badge."""
