"""scrutiny: put a deep-learning paper's claim to the test."""
