"""The back office's roles over coupons: operations run templates and batches; finance and
auditors read them and the coupons given out."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

SETUP = ["coupontemplate", "couponbatch"]
GRANTS = {
    "operations": [f"coupons.{verb}_{model}" for model in SETUP for verb in ("add", "change", "view")]
    + ["coupons.view_buyercoupon"],
    "finance": [f"coupons.view_{model}" for model in [*SETUP, "buyercoupon"]],
    "auditor": [f"coupons.view_{model}" for model in [*SETUP, "buyercoupon"]],
}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("coupons")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codes in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for code in codes:
            app_label, codename = code.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


class Migration(migrations.Migration):
    dependencies = [("coupons", "0001_coupons"), ("ledger", "0003_roles")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
