"""The simulated retailer systems: four API styles, each a PostgreSQL database plus its own Flask API.

They differ on purpose (see retailers/README.md); only the truly identical parts live in
`retailers.common`. A style runs as one or more instances (a retailer code each). Run from the
project root: `python -m retailers --help`.
"""

from retailers.common.registry import RETAILERS, Instance, RetailerSpec, instance, spec

__all__ = ["RETAILERS", "Instance", "RetailerSpec", "instance", "spec"]
