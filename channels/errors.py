from paycenter.errors import Unprocessable


class ChannelUnavailable(Unprocessable):
    """No usable channel: unknown, not installed here, not activated for the merchant, or
    not able to do what was asked (e.g. the balance channel cannot recharge)."""

    code = "channel_unavailable"
    default_message = "No active channel for this request."
