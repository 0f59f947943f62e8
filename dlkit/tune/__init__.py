"""`dlkit tune`: the search space (space), the study and its trial loop (study), pruning from
intermediate validation metrics (pruning) and what a finished search leaves (report)."""
