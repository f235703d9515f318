"""The three simulated retailer systems: each a PostgreSQL database plus its own Flask API.

They differ on purpose (see retailers/README.md); only the truly identical parts live in
`retailers.common`. Run from the project root: `python -m retailers --help`.
"""

from retailers.common.registry import RETAILERS, RetailerSpec, spec

__all__ = ["RETAILERS", "RetailerSpec", "spec"]
