"""The processors' pure core: the per-entity log and one batch step through it.

No faust, aiokafka or aiohttp here (an import-linter contract checks it): this is the
package replays and reconciliation import."""
