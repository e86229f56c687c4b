"""A toy application evaluated by specs/app.eval: a retrieval-augmented answerer over a tiny knowledge base."""
