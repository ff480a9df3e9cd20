"""Stories stage: group articles about the same event, however many outlets cover it."""
