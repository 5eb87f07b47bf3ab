"""`python -m bench`: the side-by-side benchmark behind docs/BENCHMARKS.md (issue 8)."""
