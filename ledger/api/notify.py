"""`POST /notify/<channel>/<merchant_channel_id>`: platforms call this in their own
protocol. The raw notification is stored first, then verified, then applied; the reply
is what the platform expects ("success" or an error status)."""

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from channels import registry
from channels.choices import NotificationOutcome
from channels.errors import ChannelUnavailable
from channels.services import notification_mark, notification_receive
from ledger.services.notifications import notification_apply


@csrf_exempt
@require_POST
def channel_notify(request: HttpRequest, channel: str, mc_id: int) -> HttpResponse:
    try:
        plugin = registry.plugin_for(channel)
    except ChannelUnavailable:
        return HttpResponse("unknown channel", status=404, content_type="text/plain")
    try:
        body = request.body
    except RequestDataTooBig:
        return HttpResponse("too large", status=413, content_type="text/plain")
    now = timezone.now()
    row, event = notification_receive(
        channel=channel, mc_id=mc_id, headers=dict(request.headers), body=body, now=now
    )
    if event is None:
        reply = plugin.reply(ok=False)
    else:
        outcome = notification_apply(mc=row.merchant_channel, event=event, now=now)
        notification_mark(notification=row, outcome=outcome, now=timezone.now())
        # Every verified notification is acknowledged: exceptions are recorded and raised
        # as alerts here, and a retry from the platform could not change them.
        reply = plugin.reply(ok=outcome != NotificationOutcome.RECEIVED)
    return HttpResponse(reply.body, status=reply.status, content_type=reply.content_type)
