"""The Faust shell: the app, its topics and tables, a thin agent, the intake of records
(rebalances) and every use of Faust's private API."""
