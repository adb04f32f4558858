"""`python -m bench.core`: the pure core alone, no Kafka (issue 21)."""
