"""The processors: dedupe, reorder, late correction and projection folding per entity.

The pure core (`ordering`, `kinds`, `entity`, `outcome`, `codec`) imports neither faust,
aiokafka nor aiohttp: the shell holds one `entity.EntityLog` per entity in a table and calls
`accept_many` / `release_due` on it.
"""
