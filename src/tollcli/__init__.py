"""tollcli: the Analyticon toll-road streaming-analytics workshop as one command-line tool.

The package is a library first: `backends` provision and talk to a pipeline (a local lake with
DuckDB, or AWS), `generator` makes the workshop's traffic, `questions` answers its questions and
`anomaly` scores it. `cli` is a thin Typer layer over those modules.
"""

__version__ = "0.1.0"
