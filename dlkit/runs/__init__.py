"""Run folders: what a run writes, and how later commands find and trust it."""
