import django.db.models.functions.comparison
from django.db import migrations, models

_PATTERN_INDEX = "experiments_exp_name_lower_pattern"


def create_pattern_index(apps, schema_editor):  # noqa: ANN001, ANN201
    # The search by name asks whether any active name equals or starts with the text
    # (selectors/name_search.py): a btree in text_pattern_ops answers both whatever the
    # database's collation. SQLite has no operator classes.
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {_PATTERN_INDEX} ON experiments_experiment "
        "(name_lower text_pattern_ops) WHERE lifecycle_stage = 'active'"
    )


def drop_pattern_index(apps, schema_editor):  # noqa: ANN001, ANN201
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {_PATTERN_INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("experiments", "0007_experiment_name_lower"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="experiment",
            index=models.Index(
                models.OrderBy(
                    django.db.models.functions.comparison.Coalesce(
                        models.F("last_run_time"), models.F("creation_time")
                    ),
                    descending=True,
                ),
                models.OrderBy(models.F("id"), descending=True),
                condition=models.Q(("lifecycle_stage", "active")),
                name="experiments_exp_active_recent",
            ),
        ),
        migrations.RunPython(create_pattern_index, drop_pattern_index),
    ]
