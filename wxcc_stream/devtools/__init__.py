"""Development tools: the local Kafka broker, the scenario generator and the webhook simulator."""
