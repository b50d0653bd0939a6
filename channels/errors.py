from paycenter.errors import InvalidRequest, Unprocessable


class ChannelUnavailable(Unprocessable):
    """No usable channel: unknown, not installed here, not activated for the merchant, or
    not able to do what was asked (e.g. the balance channel cannot recharge)."""

    code = "channel_unavailable"
    default_message = "No active channel for this request."


class InvalidParameters(InvalidRequest):
    """Parameters for a merchant channel that do not fit its plugin's declaration; `errors`
    maps each parameter's name to what is wrong with it."""

    code = "invalid_parameters"

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        field = next(iter(errors)) if len(errors) == 1 else None
        super().__init__(" ".join(errors.values()), field=field)
