"""Several service nodes over one PostgreSQL: one routes, every one serves consoles.

* ``election``: the routing node holds a PostgreSQL advisory lock (session lock on a
  connection of its own) and proves it every ``check_interval``; it steps down the moment
  it cannot (fencing); standbys retry the lock.
* ``frames`` (pure) and ``bus``: the leader's ordered stream of console events and
  answers over LISTEN/NOTIFY, big frames spilled to a table, gaps detected.
* ``replica`` (pure): a standby's copy of the leader's live picture.
* ``rpc``: which console actions a standby may forward, and their errors on the wire.
* ``node``: the console's contact center on a node, whichever its role.
* ``wiring``: ``switchboard run`` with ``cluster.enabled``.

docs/ARCHITECTURE.md "Cluster" is the contract; docs/DEPLOYMENT.md the operations guide.
"""
