"""The base floor: settings and Kafka plumbing every service imports (imports no service)."""
