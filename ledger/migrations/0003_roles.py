"""The staff roles of the back office as groups. Each role sees and does only its own:
operations onboard merchants, finance decides withdrawals and reads the ledger, auditors
read everything and change nothing. Later apps add their permissions to these groups."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    "operations": [
        "ledger.maintain_payment", "ledger.view_transaction", "channels.view_merchantchannel",
        "channels.add_merchantchannel", "channels.change_merchantchannel", "channels.view_channelrequestlog",
        "channels.view_channelnotification",
        "accounts.add_merchant", "accounts.change_merchant", "accounts.view_merchant",
        "accounts.add_merchantapp", "accounts.change_merchantapp", "accounts.view_merchantapp",
        "accounts.view_customer", "accounts.view_account",
    ],
    "finance": [
        "ledger.approve_withdrawal", "ledger.view_transaction", "ledger.view_posting",
        "ledger.view_journalentry", "ledger.view_hold", "accounts.view_account",
        "accounts.view_customer", "accounts.view_merchant",
    ],
    "auditor": [
        "accounts.view_merchant", "accounts.view_merchantapp", "accounts.view_customer",
        "accounts.view_account", "ledger.view_transaction", "ledger.view_posting",
        "ledger.view_journalentry", "ledger.view_hold", "paycenter.view_auditentry",
    ],
}


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations; these groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codes in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        for code in codes:
            app_label, codename = code.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0002_journal_triggers"),
        ("accounts", "0001_initial"),
        ("paycenter", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
