"""Finance imports statements and reads what matching found; auditors read it all."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MODELS = ["reconbatch", "statementline", "discrepancy"]
GRANTS = {
    "finance": [f"reconciliation.view_{model}" for model in MODELS] + ["reconciliation.import_statement"],
    "auditor": [f"reconciliation.view_{model}" for model in MODELS],
}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("reconciliation")
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
    dependencies = [("reconciliation", "0001_statements_and_batches"), ("ledger", "0003_roles")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
