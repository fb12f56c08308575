"""End-to-end pipelines built from the stages: the demo, the study grid, and multi-process plumbing."""
