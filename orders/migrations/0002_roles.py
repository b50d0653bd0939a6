"""The back office's roles over the catalog and orders: operations maintain the catalog and
act on orders (cancel, fulfil, goods returned); finance and auditors read them."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CATALOG = ["marketplaceseller", "warehouse", "product", "sku", "pricetier", "stock"]
CHECKOUT = ["order", "suborder", "orderline", "stockreservation", "orderrefund"]
GRANTS = {
    "operations": [f"orders.{verb}_{model}" for model in CATALOG for verb in ("add", "change", "view")]
    + [f"orders.view_{model}" for model in CHECKOUT]
    + ["orders.change_order"],
    "finance": [f"orders.view_{model}" for model in CHECKOUT],
    "auditor": [f"orders.view_{model}" for model in CATALOG + CHECKOUT],
}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("orders")
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
    dependencies = [("orders", "0001_catalog_and_checkout"), ("ledger", "0003_roles")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
