"""Finance imports a statement in the admin: upload, preview with per-row errors, confirm;
auditors see the batches but cannot import."""

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from reconciliation.models import Discrepancy, ReconBatch, StatementLine
from tests.reconciliation.builders import bulk_payments, generic_csv, generic_row
from tests.reconciliation.conftest import DAY, DAY_START

pytestmark = pytest.mark.django_db


def _staff(client, role: str):
    user = User.objects.create_user(username=role, password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return client


def test_finance_uploads_previews_the_errors_and_confirms(client, mc, merchant):
    txns = bulk_payments(mc=mc, merchant=merchant, count=3, day_start=DAY_START)
    data = generic_csv(
        [*(generic_row(t) for t in txns), {**generic_row(txns[0]), "channel_trade_no": "Z", "fee": "x"}]
    )
    _staff(client, "finance")
    url = reverse("admin:reconciliation_upload")
    form = {"merchant_channel": mc.pk, "format": "generic", "statement_date": DAY.isoformat()}

    # Preview: the rows that read, the one that does not and why; nothing written
    preview = client.post(url, {**form, "file": SimpleUploadedFile("s.csv", data)})
    assert preview.status_code == 200
    page = preview.content.decode()
    assert 'id="rows-ok">3<' in page and 'id="rows-bad">1<' in page
    assert "<td>5</td><td>fee</td>" in page
    assert not StatementLine.objects.exists()

    # Confirm: the readable rows imported and the day matched
    token = preview.context["token"]
    done = client.post(url, {**form, "token": token})
    batch = ReconBatch.objects.get()
    assert done.status_code == 302 and done.url == reverse(
        "admin:reconciliation_reconbatch_change", args=[batch.pk]
    )
    assert StatementLine.objects.count() == 3 and batch.state == "balanced"
    assert batch.import_errors[0]["column"] == "fee"

    # The batch, its lines and the (empty) discrepancy list show, searchable by identifier
    assert client.get(reverse("admin:reconciliation_reconbatch_change", args=[batch.pk])).status_code == 200
    lines = client.get(reverse("admin:reconciliation_statementline_changelist"), {"q": txns[1].serial})
    assert lines.context["cl"].result_count == 1
    assert (
        client.get(
            reverse("admin:reconciliation_discrepancy_changelist"), {"kind": "missing_ours"}
        ).status_code
        == 200
    )
    assert not Discrepancy.objects.exists()


def test_an_auditor_sees_batches_but_cannot_import(client, mc):
    _staff(client, "auditor")
    assert client.get(reverse("admin:reconciliation_reconbatch_changelist")).status_code == 200
    assert client.get(reverse("admin:reconciliation_discrepancy_changelist")).status_code == 200
    assert client.get(reverse("admin:reconciliation_upload")).status_code == 403
