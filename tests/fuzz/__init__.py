"""Mutation fuzzing of the whole engine over the corpora (``make fuzz``; a sample in pytest)."""
