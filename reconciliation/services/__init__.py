from reconciliation.services.fees import batch_fees_post
from reconciliation.services.imports import statement_import
from reconciliation.services.matching import batch_match

__all__ = ["batch_fees_post", "batch_match", "statement_import"]
