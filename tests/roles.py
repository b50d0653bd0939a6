"""The staff groups as the migrations define them. Transactional tests flush the database,
and a flush takes the rows of data migrations with it, so those tests make the groups here."""

import importlib

from django.contrib.auth.models import Group, Permission

# Granted by later migrations than the one that made the groups.
LATER_GRANTS = {"finance": ["ledger.post_adjustment"]}
GRANTING_MIGRATIONS = (
    "orders.migrations.0002_roles",
    "coupons.migrations.0002_roles",
    "reconciliation.migrations.0002_roles",
)


def role(name: str) -> Group:
    codes = importlib.import_module("ledger.migrations.0003_roles").ROLES[name] + LATER_GRANTS.get(name, [])
    for module in GRANTING_MIGRATIONS:
        codes += importlib.import_module(module).GRANTS.get(name, [])
    group, _ = Group.objects.get_or_create(name=name)
    for code in codes:
        app_label, codename = code.split(".")
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return group
