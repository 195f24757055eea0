"""Model backends behind two small protocols: ScoringLM and ChatModel."""
