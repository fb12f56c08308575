"""Data stage: reading instruction rows, formatting prompts, tokenising with prompt masking, and (in
``synthetic``, ``triggers``, ``poison``) the backdoor toolkit."""
