"""How the processors' state is stored: held-event rows and the entity log's table value."""
