"""Model stage: local tokenizer training, small-model factory, loading any HF causal LM, and the per-sample loss."""
