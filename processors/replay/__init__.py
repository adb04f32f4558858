"""`wxcc-stream replay`: the pure core run over aiokafka batches into a topic generation."""
