"""Influence stage (METHOD.md section 2): compressed per-sample gradients from one batched pass, a memory-mapped
cache, and chunked scores FF, FR, RF, RR; RapidIn's JSON format in and out."""

from rapidun.influence.rapidin_json import RapidInFile, import_rapidin_json, read_rapidin_json, write_rapidin_json

__all__ = ["RapidInFile", "import_rapidin_json", "read_rapidin_json", "write_rapidin_json"]
