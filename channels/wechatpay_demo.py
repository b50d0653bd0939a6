"""The demo merchant also pays through the fake WeChat Pay (`make run` starts it): keys made
here, registered with the fake, the channel activated with them. The fake keeps its state
in memory, so every seeding registers the merchant again and follows the fake's new
platform key (demo data only; a real merchant channel's keys come from the operator)."""

import json
import secrets

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

DEMO_MCHID, DEMO_APPID = "1900000101", "wxd678efh567hg6787"


@register(order=16, name="wechatpay")
def seed(context: dict) -> None:
    notes = context.setdefault("notes", [])
    url = settings.WECHATPAY_FAKE_URL
    if not url:
        return
    mc = MerchantChannel.objects.filter(merchant_id=context["merchant_id"], channel="wechatpay").first()
    old = json.loads(mc.secrets) if mc is not None and mc.secrets else {}
    values = _keys(old, serial_no=(mc.params.get("merchant_serial_no") if mc else None))
    platform = _register_waiting(url, values, notes)
    if platform is None:
        return
    params = {"mode": "ordinary", "mchid": DEMO_MCHID, "appid": DEMO_APPID, "base_url": url, **platform}
    params["merchant_serial_no"] = values["merchant_serial_no"]
    if mc is not None and mc.status == MerchantChannelStatus.ACTIVE:
        with transaction.atomic():
            MerchantChannel.objects.filter(pk=mc.pk).update(params={**mc.params, **params})
    else:
        mc = merchant_channel_activate(
            merchant_id=context["merchant_id"],
            channel="wechatpay",
            actor="seed_demo",
            now=timezone.now(),
            params=params,
            secrets={k: values[k] for k in ("merchant_private_key", "apiv3_key")},
        )
    notes.append(
        f"channels of merchant {context['merchant_id']}: wechatpay"
        f" (merchant channel {mc.pk}, fake WeChat Pay at {url})"
    )


def _keys(old: dict, *, serial_no: str | None) -> dict:
    if old.get("merchant_private_key") and old.get("apiv3_key") and serial_no:
        key = serialization.load_pem_private_key(old["merchant_private_key"].encode(), password=None)
        return {**old, "merchant_serial_no": serial_no, "key": key}
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "key": key,
        "merchant_serial_no": secrets.token_hex(20).upper(),
        "apiv3_key": secrets.token_hex(16),
        "merchant_private_key": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
    }


def _register_waiting(url: str, values: dict, notes: list) -> dict | None:
    public_pem = (
        values["key"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    body = {
        "mchid": DEMO_MCHID,
        "merchant_serial_no": values["merchant_serial_no"],
        "merchant_public_key": public_pem,
        "apiv3_key": values["apiv3_key"],
    }
    return post_when_up(f"{url}/fake/merchants", body, what="wechatpay channel", notes=notes)
