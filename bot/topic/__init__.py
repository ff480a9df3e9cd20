"""Topic stage: keep only news about Meta's AI work, with the reasons for every verdict."""
