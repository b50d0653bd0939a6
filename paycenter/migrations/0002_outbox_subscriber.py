from django.db import migrations, models


def webhook_rows_to_events(apps, schema_editor):
    # Before subscribers, topic "webhook" had exactly one handler: the app webhook.
    OutboxMessage = apps.get_model("paycenter", "OutboxMessage")
    OutboxMessage.objects.filter(topic="webhook").update(topic="events", subscriber="webhook")


class Migration(migrations.Migration):
    dependencies = [("paycenter", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="outboxmessage",
            name="subscriber",
            field=models.CharField(default="", help_text="the handler this row is for", max_length=100),
            preserve_default=False,
        ),
        migrations.RunPython(webhook_rows_to_events, migrations.RunPython.noop),
    ]
