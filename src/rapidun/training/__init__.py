"""Training stage: one optimisation loop (used by ``rapidun train`` and every ``rapidun unlearn`` method) and the
supervised fine-tuning recipe that implants a backdoor and serves as the retraining reference."""
