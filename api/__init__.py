"""The query API and live supervisor wallboard over the projection topics.

A pure core (the materialised view with its indexes, filters and cursors, the
aggregates, the change log behind the live stream, the auth decisions) and a thin
shell (the Kafka feed, the aiohttp app, the command's entry point).
"""
