"""The demo merchant also pays through the fake Alipay (`make run` starts it): an app key
pair made here, the app registered with the fake, the channel activated with it. The fake
keeps its state in memory, so a seeding after the fake restarted registers a new app and
takes its new ids and platform key (demo data only; a real merchant channel's keys come from
the operator)."""

import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from channels.choices import MerchantChannelStatus
from channels.demo import post_when_up
from channels.models import MerchantChannel
from channels.services import merchant_channel_activate
from paycenter.demo import register


@register(order=17, name="alipay")
def seed(context: dict) -> None:
    notes = context.setdefault("notes", [])
    url = settings.ALIPAY_FAKE_URL
    if not url:
        return
    mc = MerchantChannel.objects.filter(merchant_id=context["merchant_id"], channel="alipay").first()
    stored = json.loads(mc.secrets) if mc is not None and mc.secrets else {}
    private_pem = stored.get("app_private_key") or _new_private_pem()
    app = _register_waiting(url, private_pem, notes)
    if app is None:
        return
    params = {
        "mode": "ordinary",
        "app_id": app["app_id"],
        "alipay_public_key": app["alipay_public_key"],
        "gateway_url": app["gateway_url"],
    }
    if mc is not None and mc.status == MerchantChannelStatus.ACTIVE:
        with transaction.atomic():
            MerchantChannel.objects.filter(pk=mc.pk).update(params={**mc.params, **params})
    else:
        mc = merchant_channel_activate(
            merchant_id=context["merchant_id"],
            channel="alipay",
            actor="seed_demo",
            now=timezone.now(),
            params=params,
            secrets={"app_private_key": private_pem},
        )
    notes.append(
        f"channels of merchant {context['merchant_id']}: alipay"
        f" (merchant channel {mc.pk}, fake Alipay at {url})"
    )


def _new_private_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _register_waiting(url: str, private_pem: str, notes: list) -> dict | None:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    body = {"name": "Demo Shop", "public_key": public_pem}
    return post_when_up(f"{url}/dev/apps", body, what="alipay channel", notes=notes)
