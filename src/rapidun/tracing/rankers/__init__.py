"""One module per ranker of ``rapidun trace``; the registry is :data:`rapidun.tracing.ranker_registry.RANKERS`."""
