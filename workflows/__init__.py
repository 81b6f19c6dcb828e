"""The transition workflow and the pure rules it runs."""
