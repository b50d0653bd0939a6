from reconciliation.services.imports import statement_import
from reconciliation.services.matching import batch_match

__all__ = ["batch_match", "statement_import"]
