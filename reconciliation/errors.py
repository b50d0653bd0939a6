from paycenter.errors import Conflict, PaycenterError


class StatementInvalid(PaycenterError):
    """The file, or some of its rows, cannot be read; `errors` says which rows and why."""

    code = "statement_invalid"
    status = 422
    default_message = "The statement cannot be read."

    def __init__(self, message: str | None = None, *, errors: list | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class BatchClosed(Conflict):
    code = "batch_closed"
    default_message = "Finance closed this day's reconciliation: nothing more is imported into it."


class BatchFormatMismatch(Conflict):
    code = "batch_format_mismatch"
    default_message = "This day was imported in another statement format."
